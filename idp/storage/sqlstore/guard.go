package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Text a backend cannot store (NUL, invalid UTF-8) never reaches the
// driver: PostgreSQL refuses it as a parameter with an error of its own,
// SQLite accepts it, so the two would answer outside input differently
// (a 500 on one, a miss on the other).
//
// Writes are checked where values are encoded (fields, the domains of an
// organization) and refused with storage.ErrInvalid. Every other statement
// goes through guard: a string argument that cannot be stored cannot equal
// any stored value, so the statement is answered as matching no row,
// without asking the database. A lookup by such a key is then
// storage.ErrNotFound, a list filtered by it is empty, and an UPDATE or
// DELETE keyed by it affects nothing, on both backends alike. An INSERT
// that slipped past the encoders is refused with ErrInvalid, never
// silently dropped.

// guard wraps a Driver; see above.
type guard struct{ Driver }

func (g guard) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return guardQuerier{g.Driver}.Exec(ctx, query, args...)
}

func (g guard) QueryRow(ctx context.Context, query string, args ...any) Row {
	return guardQuerier{g.Driver}.QueryRow(ctx, query, args...)
}

func (g guard) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return guardQuerier{g.Driver}.Query(ctx, query, args...)
}

func (g guard) InTx(ctx context.Context, fn func(Querier) error) error {
	return g.Driver.InTx(ctx, func(q Querier) error { return fn(guardQuerier{q}) })
}

// guardQuerier applies the guard to one Querier (the database or a
// transaction).
type guardQuerier struct{ q Querier }

func (g guardQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if i := unstorableArg(args); i >= 0 {
		if isInsert(query) {
			return 0, invalidArg(i)
		}
		return 0, nil
	}
	return g.q.Exec(ctx, query, args...)
}

func (g guardQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	if i := unstorableArg(args); i >= 0 {
		if isInsert(query) {
			return errRow{invalidArg(i)}
		}
		return errRow{fmt.Errorf("%w: no row can match an argument with NUL or invalid UTF-8", storage.ErrNotFound)}
	}
	return g.q.QueryRow(ctx, query, args...)
}

func (g guardQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if i := unstorableArg(args); i >= 0 {
		if isInsert(query) {
			return nil, invalidArg(i)
		}
		return emptyRows{}, nil
	}
	return g.q.Query(ctx, query, args...)
}

func isInsert(query string) bool {
	return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(query)), "INSERT")
}

func invalidArg(i int) error { return fmt.Errorf("argument $%d: %w", i+1, storage.ErrInvalid) }

// unstorableArg returns the index of the first string argument that cannot
// be stored, or -1.
func unstorableArg(args []any) int {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			if !storage.Storable(v) {
				return i
			}
		case *string:
			if v != nil && !storage.Storable(*v) {
				return i
			}
		}
	}
	return -1
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type emptyRows struct{}

func (emptyRows) Next() bool        { return false }
func (emptyRows) Scan(...any) error { return storage.ErrNotFound }
func (emptyRows) Err() error        { return nil }
func (emptyRows) Close()            {}

// checkText refuses a value to be stored in column name if it or any string
// inside it (a list's elements, a map's keys and values, a struct's fields)
// cannot be stored.
func checkText(name string, v any) error {
	if !storableValue(reflect.ValueOf(v)) {
		return fmt.Errorf("%s: %w", name, storage.ErrInvalid)
	}
	return nil
}

func storableValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return storage.Storable(v.String())
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || storableValue(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return true // bytes are stored as bytes
		}
		for i := range v.Len() {
			if !storableValue(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if !storableValue(it.Key()) || !storableValue(it.Value()) {
				return false
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !storableValue(v.Field(i)) {
				return false
			}
		}
	}
	return true
}
