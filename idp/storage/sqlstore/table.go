package sqlstore

import (
	"context"
	"fmt"
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

	cols   string
	insert string
	update string // sets every column; the key is the last argument

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
	sets := make([]string, len(f.names))
	for i, n := range f.names {
		marks[i] = fmt.Sprintf("$%d", i+1)
		sets[i] = fmt.Sprintf("%s = %s", n, marks[i])
	}
	return &table[T]{
		name: name, key: key, keyOf: keyOf, fields: fn,
		cols:   f.columns(),
		insert: fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", name, f.columns(), strings.Join(marks, ", ")),
		update: fmt.Sprintf("UPDATE %s SET %s WHERE %s = $%d", name, strings.Join(sets, ", "), key, len(f.names)+1),
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

// rewrite stores v over the row keyed key. v's key is forced to key first:
// an update function cannot move a row to another key.
func (t *table[T]) rewrite(ctx context.Context, q Querier, v *T, key string) error {
	*t.keyOf(v) = key
	args, err := t.fields(v).args()
	if err != nil {
		return err
	}
	n, err := q.Exec(ctx, t.update, append(args, key)...)
	if err == nil && n == 0 {
		return storage.ErrNotFound
	}
	return err
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
