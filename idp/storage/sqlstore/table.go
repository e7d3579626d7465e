package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// table holds the SQL of one entity table, built once from its fields
// function, and the generic row operations on it.
type table[T any] struct {
	name   string
	key    string // primary key column
	keyOf  func(*T) *string
	fields func(*T) *fields

	names  []string // the columns, in order
	cols   string
	insert string

	// kids, when set, stores rows of other tables that belong to the
	// entity (an organization's domains).
	kids *children[T]
}

// children loads and stores the rows of other tables that are part of an
// entity. Deleting them is left to ON DELETE CASCADE.
type children[T any] struct {
	load  func(ctx context.Context, q Querier, v *T) error
	store func(ctx context.Context, q Querier, v *T) error
	clear func(ctx context.Context, q Querier, v *T) error
}

func (t *table[T]) loadChildren(ctx context.Context, q Querier, v *T) error {
	if t.kids == nil {
		return nil
	}
	return t.kids.load(ctx, q, v)
}

func (t *table[T]) storeChildren(ctx context.Context, q Querier, v *T) error {
	if t.kids == nil {
		return nil
	}
	return t.kids.store(ctx, q, v)
}

func (t *table[T]) replaceChildren(ctx context.Context, q Querier, v *T) error {
	if t.kids == nil {
		return nil
	}
	if err := t.kids.clear(ctx, q, v); err != nil {
		return err
	}
	return t.kids.store(ctx, q, v)
}

func newTable[T any](name, key string, keyOf func(*T) *string, fn func(*T) *fields) *table[T] {
	var zero T
	f := fn(&zero)
	marks := make([]string, len(f.names))
	for i := range f.names {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	return &table[T]{
		name: name, key: key, keyOf: keyOf, fields: fn,
		names:  f.names,
		cols:   f.columns(),
		insert: fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", name, f.columns(), strings.Join(marks, ", ")),
	}
}

// selectWhere returns a SELECT of every column; tail is the rest of the
// statement after FROM (WHERE, ORDER BY, LIMIT, a lock clause).
func (t *table[T]) selectWhere(tail string) string {
	return "SELECT " + t.cols + " FROM " + t.name + " " + tail
}

func (t *table[T]) byKey(lock string) string {
	return t.selectWhere("WHERE " + t.key + " = $1" + lock)
}

func (t *table[T]) put(ctx context.Context, q Querier, v *T) error {
	args, err := t.fields(v).args()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, t.insert, args...)
	return err
}

// encoded is v's column values as rewrite compares them: taken before an
// update function runs, since the function may change slices it shares
// with v. An encoding error (a value stored by other means) gives nil, and
// rewrite then writes every column.
func (t *table[T]) encoded(v *T) []any {
	args, err := t.fields(v).args()
	if err != nil {
		return nil
	}
	return args
}

// rewrite stores v over the row keyed key, whose columns were was
// (encoded): it sets only the columns whose value differs, so an update
// that moves one field rewrites one column (and only the index entries on
// it), and an update that changes nothing writes nothing. v's key is
// forced to key first: an update function cannot move a row to another
// key.
func (t *table[T]) rewrite(ctx context.Context, q Querier, was []any, v *T, key string) error {
	*t.keyOf(v) = key
	return t.rewriteKeyed(ctx, q, was, v, []string{t.key}, key)
}

// rewriteKeyed is rewrite for the row whose columns cols hold vals, for a
// table keyed by several columns (links). The caller has forced v's key
// fields to vals, so they are never among the columns set.
func (t *table[T]) rewriteKeyed(ctx context.Context, q Querier, was []any, v *T, cols []string, vals ...any) error {
	args, err := t.fields(v).args()
	if err != nil {
		return err
	}
	sets := make([]string, 0, len(args))
	changed := make([]any, 0, len(args)+len(vals))
	for i, a := range args {
		if was != nil && sameArg(was[i], a) {
			continue
		}
		changed = append(changed, a)
		sets = append(sets, t.names[i]+" = $"+strconv.Itoa(len(changed)))
	}
	if len(sets) == 0 {
		return nil
	}
	conds := make([]string, len(cols))
	for i, c := range cols {
		changed = append(changed, vals[i])
		conds[i] = c + " = $" + strconv.Itoa(len(changed))
	}
	query := "UPDATE " + t.name + " SET " + strings.Join(sets, ", ") + " WHERE " + strings.Join(conds, " AND ")
	n, err := q.Exec(ctx, query, changed...)
	if err == nil && n == 0 {
		return storage.ErrNotFound
	}
	return err
}

// sameArg reports whether two encoded column values are equal. Encoded
// values are nil, strings, booleans, int64s or byte slices.
func sameArg(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
}

// one runs a query expected to return a row of T.
func (t *table[T]) one(ctx context.Context, q Querier, query string, args ...any) (T, error) {
	var v T
	err := t.fields(&v).scan(q.QueryRow(ctx, query, args...))
	return v, err
}

func (t *table[T]) many(ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := t.fields(&v).scan(rows); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Children are loaded after the rows are closed: a PostgreSQL
	// connection runs one query at a time.
	rows.Close()
	for i := range out {
		if err := t.loadChildren(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deleteKey deletes the row keyed key; no such row is storage.ErrNotFound.
func (t *table[T]) deleteKey(ctx context.Context, q Querier, key string) error {
	n, err := q.Exec(ctx, "DELETE FROM "+t.name+" WHERE "+t.key+" = $1", key)
	if err == nil && n == 0 {
		return storage.ErrNotFound
	}
	return err
}
