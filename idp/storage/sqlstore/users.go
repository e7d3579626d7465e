package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	return create(ctx, s, users, "create user", u)
}

func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	return get(ctx, s, users, "get user", id)
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	u, err := users.one(ctx, s.d, users.selectWhere("WHERE email = $1"), email)
	if err != nil {
		return storage.User{}, s.fail("get user by email", err)
	}
	return u, nil
}

// ListUsers pages by email. The WHERE clause is built from the filters in
// use rather than with "$1 = ” OR ..." so that PostgreSQL can use the index.
func (s *Store) ListUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	var w where
	if q.OrgID != "" {
		w.add("org_id = %s", q.OrgID)
	}
	if q.AfterEmail != "" {
		w.add("email > %s", q.AfterEmail)
	}
	lim := w.limit(limit(q.Limit))
	query := users.selectWhere(w.String() + " ORDER BY email" + lim)
	out, err := users.many(ctx, s.d, query, w.args...)
	return out, s.fail("list users", err)
}

func (s *Store) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) (storage.User, error) {
	return update(ctx, s, users, "update user", id, fn)
}

// DeleteUser deletes the user; sessions, tokens and one-time tokens go with
// it (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return remove(ctx, s, users, "delete user", id)
}

func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int64
	if err := s.d.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, s.fail("count users", err)
	}
	return int(n), nil
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; cond has one %s for the placeholder of arg.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, fmt.Sprintf("$%d", len(w.args))))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	out := "WHERE " + w.conds[0]
	for _, c := range w.conds[1:] {
		out += " AND " + c
	}
	return out
}

// limit adds n as the next argument and returns the LIMIT clause for it.
func (w *where) limit(n int) string {
	w.args = append(w.args, n)
	return fmt.Sprintf(" LIMIT $%d", len(w.args))
}
