package sqlstore

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// fakeRow hands back the values a driver would, by Scan's rules for the
// destination types fields uses.
type fakeRow []any

func (r fakeRow) Scan(dest ...any) error {
	for i, d := range dest {
		reflect.ValueOf(d).Elem().Set(reflect.ValueOf(r[i]))
	}
	return nil
}

// roundTrip encodes v's columns as a driver would receive them, feeds them
// back through Scan, and returns the decoded entity.
func roundTrip[T any](t *testing.T, tb *table[T], v T) T {
	t.Helper()
	args, err := tb.fields(&v).args()
	if err != nil {
		t.Fatal(err)
	}
	var out T
	f := tb.fields(&out)
	row := make(fakeRow, len(args))
	for i, a := range args {
		row[i] = storedAs(a, f.dest[i])
	}
	if err := f.scan(row); err != nil {
		t.Fatal(err)
	}
	return out
}

// storedAs converts an argument to what Scan would write into dest: NULL
// becomes a nil pointer for pointer destinations.
func storedAs(arg, dest any) any {
	dt := reflect.TypeOf(dest).Elem()
	if arg == nil {
		return reflect.Zero(dt).Interface()
	}
	if dt.Kind() == reflect.Pointer {
		p := reflect.New(dt.Elem())
		p.Elem().Set(reflect.ValueOf(arg))
		return p.Interface()
	}
	return arg
}

func TestFieldsRoundTrip(t *testing.T) {
	ts := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", 3600))
	maxAge := int64(0)
	tests := []struct {
		name string
		in   storage.AuthRequest
		want storage.AuthRequest
	}{
		{"zero stays zero", storage.AuthRequest{ID: "a"}, storage.AuthRequest{ID: "a"}},
		{
			"empty lists, door data and OIDC params read back nil",
			storage.AuthRequest{ID: "a", Prompt: []string{}, DoorData: []byte{}, OIDC: &storage.OIDCParams{Scopes: []string{}}},
			storage.AuthRequest{ID: "a"},
		},
		{
			"times come back in UTC, to the microsecond",
			storage.AuthRequest{ID: "a", AuthTime: ts.Add(789 * time.Nanosecond)},
			storage.AuthRequest{ID: "a", AuthTime: ts.UTC()},
		},
		{
			"max_age zero is not NULL",
			storage.AuthRequest{ID: "a", MaxAge: &maxAge},
			storage.AuthRequest{ID: "a", MaxAge: &maxAge},
		},
		{
			"an upstream with empty lists reads back without them",
			storage.AuthRequest{ID: "a", Upstream: &storage.UpstreamLogin{ConnectorID: "c", Subject: "s", Groups: []string{}, AMR: []string{}}},
			storage.AuthRequest{ID: "a", Upstream: &storage.UpstreamLogin{ConnectorID: "c", Subject: "s"}},
		},
		{
			"an upstream survives",
			storage.AuthRequest{ID: "a", Upstream: &storage.UpstreamLogin{ConnectorID: "c", Subject: "s", Groups: []string{"g"}, Linked: true}},
			storage.AuthRequest{ID: "a", Upstream: &storage.UpstreamLogin{ConnectorID: "c", Subject: "s", Groups: []string{"g"}, Linked: true}},
		},
		{
			"values survive",
			storage.AuthRequest{ID: "a", OIDC: &storage.OIDCParams{Scopes: []string{"openid"}}, DoorData: []byte(`{"k":"v"}`), SubjectHint: "u", Attempts: 3},
			storage.AuthRequest{ID: "a", OIDC: &storage.OIDCParams{Scopes: []string{"openid"}}, DoorData: []byte(`{"k":"v"}`), SubjectHint: "u", Attempts: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip(t, authRequests, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tt.want)
			}
			if tt.want.AuthTime.IsZero() != got.AuthTime.IsZero() {
				t.Fatal("IsZero changed")
			}
		})
	}
}

// An empty reference must reach the database as NULL, or the foreign key
// rejects a token without a user.
func TestRefEmptyIsNull(t *testing.T) {
	tok := storage.AccessToken{Hash: "h"}
	args, err := accessTokens.fields(&tok).args()
	if err != nil {
		t.Fatal(err)
	}
	f := accessTokens.fields(&tok)
	for i, n := range f.names {
		if n == "user_id" && args[i] != nil {
			t.Fatalf("user_id argument = %#v, want nil (NULL)", args[i])
		}
	}
	if got := roundTrip(t, accessTokens, tok); got.UserID != "" {
		t.Fatalf("UserID = %q after round trip, want empty", got.UserID)
	}
}

func TestLists(t *testing.T) {
	f := new(fields)
	var l []string
	f.list("l", &l)
	for _, in := range [][]string{nil, {}, {"a", "b"}} {
		l = in
		args, err := f.args()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := args[0].(string); !ok {
			t.Fatalf("list argument is %T, want string (JSON text)", args[0])
		}
	}
}

func TestLimit(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-1, 100}, {0, 100}, {1, 1}, {1000, 1000}, {1001, 1000}} {
		if got := limit(tt.in); got != tt.want {
			t.Errorf("limit(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestWhere(t *testing.T) {
	var w where
	if w.String() != "" {
		t.Fatalf("empty where = %q", w.String())
	}
	w.add("a = %s", "x")
	w.add("b < %s", 2)
	lim := w.limit(10)
	if got, want := w.String()+lim, "WHERE a = $1 AND b < $2 LIMIT $3"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !reflect.DeepEqual(w.args, []any{"x", 2, 10}) {
		t.Fatalf("args = %v", w.args)
	}
}

func TestTableSQL(t *testing.T) {
	if got, want := authCodes.insert, "INSERT INTO auth_codes (hash, auth_request_id, client_id, grant_id, created_at, expires_at, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"; got != want {
		t.Errorf("insert = %q\nwant %q", got, want)
	}
	if got, want := authCodes.byKey(" FOR UPDATE"), "SELECT hash, auth_request_id, client_id, grant_id, created_at, expires_at, consumed_at FROM auth_codes WHERE hash = $1 FOR UPDATE"; got != want {
		t.Errorf("byKey = %q\nwant %q", got, want)
	}
}

// A request without an upstream stores "", the column's default, so rows
// written before migration 0009 and local logins read alike.
func TestUpstreamNoneIsEmpty(t *testing.T) {
	r := storage.AuthRequest{ID: "a"}
	args, err := authRequests.fields(&r).args()
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range authRequests.names {
		if n == "upstream" && args[i] != "" {
			t.Fatalf("upstream argument = %#v, want \"\"", args[i])
		}
	}
}

// execLog is a Querier that keeps the statements Exec gets.
type execLog struct {
	queries []string
	args    [][]any
}

func (l *execLog) Exec(_ context.Context, q string, args ...any) (int64, error) {
	l.queries, l.args = append(l.queries, q), append(l.args, args)
	return 1, nil
}
func (l *execLog) QueryRow(context.Context, string, ...any) Row        { return fakeRow{} }
func (l *execLog) Query(context.Context, string, ...any) (Rows, error) { return emptyRows{}, nil }

// An update writes only the columns it changed (so SQLite rewrites only
// their index entries and the WAL carries less), and nothing when nothing
// changed.
func TestRewriteChangedColumnsOnly(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cur := storage.User{ID: "u1", OrgID: "o1", Email: "a@example.com", Name: "A", PasswordHash: "h",
		State: storage.UserActive, Roles: []string{"admin"}, CreatedAt: now}
	tests := []struct {
		name     string
		change   func(*storage.User)
		wantSQL  string
		wantArgs []any
	}{
		{"one column", func(u *storage.User) { u.LastLoginAt = now.Add(time.Hour) },
			"UPDATE users SET last_login_at = $1 WHERE id = $2", []any{now.Add(time.Hour).UnixMicro(), "u1"}},
		{"two columns", func(u *storage.User) { u.Name, u.Roles = "B", nil },
			"UPDATE users SET name = $1, roles = $2 WHERE id = $3", []any{"B", "null", "u1"}},
		{"the key cannot move", func(u *storage.User) { u.ID = "u2" }, "", nil},
		{"nothing", func(*storage.User) {}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cur
			c.Roles = slices.Clone(cur.Roles)
			was := users.encoded(&c)
			next := c
			tt.change(&next)
			var l execLog
			if err := users.rewrite(context.Background(), &l, was, &next, "u1"); err != nil {
				t.Fatal(err)
			}
			if tt.wantSQL == "" {
				if len(l.queries) != 0 {
					t.Fatalf("wrote %q for an unchanged row", l.queries)
				}
				return
			}
			if len(l.queries) != 1 || l.queries[0] != tt.wantSQL || !slices.Equal(l.args[0], tt.wantArgs) {
				t.Fatalf("got %q %v\nwant %q %v", l.queries, l.args, tt.wantSQL, tt.wantArgs)
			}
		})
	}
	// Without the old values (they could not be encoded) every column is
	// written.
	var l execLog
	next := cur
	if err := users.rewrite(context.Background(), &l, nil, &next, "u1"); err != nil || len(l.args) != 1 || len(l.args[0]) != len(users.names)+1 {
		t.Fatalf("full rewrite: %v %q", err, l.queries)
	}
}

// A table keyed by two columns (links) names both in the WHERE, after the
// changed columns.
func TestRewriteKeyed(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := storage.Link{ConnectorID: "c", Subject: "s", UserID: "u", Email: "a@example.com", CreatedAt: now}
	was := links.encoded(&l)
	next := l
	next.Email = "b@example.com"
	var kl execLog
	if err := links.rewriteKeyed(context.Background(), &kl, was, &next, []string{"connector_id", "subject"}, "c", "s"); err != nil {
		t.Fatal(err)
	}
	if want := "UPDATE links SET email = $1 WHERE connector_id = $2 AND subject = $3"; len(kl.queries) != 1 || kl.queries[0] != want ||
		!slices.Equal(kl.args[0], []any{"b@example.com", "c", "s"}) {
		t.Fatalf("keyed rewrite: got %q %v\nwant %q", kl.queries, kl.args, want)
	}
}
