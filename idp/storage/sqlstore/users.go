package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

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
// The rows come in email order from the index (users_org_email, or the
// email's unique index) and the LIMIT stops the scan, so a page costs the
// rows it reads up to its last match, however deep the cursor: no OFFSET.
func (s *Store) ListUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, error) {
	if q.AfterEmail != "" && q.BeforeEmail != "" {
		return nil, fmt.Errorf("list users: AfterEmail and BeforeEmail together: %w", storage.ErrInvalid)
	}
	w := userFilter(q)
	order := " ORDER BY email"
	switch {
	case q.AfterEmail != "":
		w.add("email > %s", q.AfterEmail)
	case q.BeforeEmail != "":
		w.add("email < %s", q.BeforeEmail)
		order = " ORDER BY email DESC"
	}
	lim := w.limit(limit(q.Limit))
	query := users.selectWhere(w.String() + order + lim)
	out, err := users.many(ctx, s.d, query, w.args...)
	if q.BeforeEmail != "" {
		slices.Reverse(out)
	}
	return out, s.fail("list users", err)
}

// userFilter is the WHERE clause of q's filters, without its cursor.
func userFilter(q storage.UserQuery) *where {
	w := &where{}
	if q.OrgID != "" {
		w.add("org_id = %s", q.OrgID)
	}
	if q.Search != "" {
		// The pattern is lower-cased here; lower() in SQL folds the
		// column (ASCII only on SQLite). Emails are stored lower-case.
		w.add(`(email LIKE %[1]s ESCAPE '\' OR lower(name) LIKE %[1]s ESCAPE '\')`, "%"+likeEscape(strings.ToLower(q.Search))+"%")
	}
	if q.State != "" {
		w.add("state = %s", string(q.State))
	}
	if !q.LockedAt.IsZero() {
		w.add("locked_until > %s", micros(q.LockedAt))
	}
	if !q.LastLoginAfter.IsZero() {
		w.add("last_login_at > %s", micros(q.LastLoginAfter))
	}
	if !q.LastLoginBefore.IsZero() {
		w.add("last_login_at < %s", micros(q.LastLoginBefore))
	}
	switch q.MFA {
	case storage.MFAStatusEnrolled:
		w.add("EXISTS ("+enrolledFactor+")", storage.FactorRecovery)
	case storage.MFAStatusSkipped:
		w.add("mfa_skipped AND NOT EXISTS ("+enrolledFactor+")", storage.FactorRecovery)
	case storage.MFAStatusNone:
		w.add("NOT mfa_skipped AND NOT EXISTS ("+enrolledFactor+")", storage.FactorRecovery)
	case "":
	default:
		w.conds = append(w.conds, "1 = 0") // no user has an unknown status
	}
	return w
}

// enrolledFactor selects a confirmed factor of the user that is not a
// recovery code; its one %s is the placeholder of storage.FactorRecovery.
const enrolledFactor = `SELECT 1 FROM factors f WHERE f.user_id = users.id AND f.confirmed_at <> 0 AND f.kind <> %s`

// likeEscape escapes LIKE's wildcards (and its escape character) in s.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CountUsersBy counts users by organization, state, lock and MFA status,
// in one pass over the users (and an index probe of each one's factors).
func (s *Store) CountUsersBy(ctx context.Context, now time.Time) ([]storage.UserCount, error) {
	w := &where{}
	w.add("%s", micros(now))
	w.add(`CASE WHEN EXISTS (`+enrolledFactor+`) THEN 'enrolled' WHEN mfa_skipped THEN 'skipped' ELSE 'none' END`, storage.FactorRecovery)
	query := `SELECT COALESCE(org_id, ''), state, locked_until > ` + w.conds[0] + `, ` + w.conds[1] + `, COUNT(*)
		FROM users GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`
	rows, err := s.d.Query(ctx, query, w.args...)
	if err != nil {
		return nil, s.fail("count users by", err)
	}
	defer rows.Close()
	var out []storage.UserCount
	for rows.Next() {
		var c storage.UserCount
		var state string
		var n int64
		if err := rows.Scan(&c.OrgID, &state, &c.Locked, &c.MFA, &n); err != nil {
			return nil, s.fail("count users by", err)
		}
		c.State, c.Count = storage.UserState(state), int(n)
		out = append(out, c)
	}
	return out, s.fail("count users by", rows.Err())
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

// addAll appends a condition whose one %s is the comma-separated list of
// the placeholders of args (an IN list).
func (w *where) addAll(cond string, args ...any) {
	marks := make([]string, len(args))
	for i, a := range args {
		w.args = append(w.args, a)
		marks[i] = fmt.Sprintf("$%d", len(w.args))
	}
	w.conds = append(w.conds, fmt.Sprintf(cond, strings.Join(marks, ", ")))
}

// limit adds n as the next argument and returns the LIMIT clause for it.
func (w *where) limit(n int) string {
	w.args = append(w.args, n)
	return fmt.Sprintf(" LIMIT $%d", len(w.args))
}
