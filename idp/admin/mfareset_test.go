package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// mailbox records the notices the service sends; fail makes the mail
// server refuse.
type mailbox struct {
	mu   sync.Mutex
	sent []string // "template to"
	data []selfservice.MailData
	fail bool
}

func (m *mailbox) Mail(_ context.Context, template, to string, d selfservice.MailData) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("smtp: 451 try later")
	}
	m.sent = append(m.sent, template+" "+to)
	m.data = append(m.data, d)
	return nil
}

// mfaUser is a user of org with everything an MFA reset removes: a
// confirmed TOTP, an enrolment in progress, two recovery codes, "Skip for
// now", a browser session, a refresh and an access token.
func mfaUser(t *testing.T, s *Service, org, email string) storage.User {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "test", CreateUserInput{Email: email, Name: "User " + email, Org: org, Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	st := backend(t, s)
	exp := now.Add(time.Hour)
	for _, err := range []error{
		st.CreateFactor(ctx, storage.Factor{ID: "totp-" + u.ID, UserID: u.ID, Kind: storage.FactorTOTP, Secret: []byte("sealed"), ConfirmedAt: now, CreatedAt: now}),
		st.CreateFactor(ctx, storage.Factor{ID: "pending-" + u.ID, UserID: u.ID, Kind: storage.FactorTOTP, Secret: []byte("sealed"), CreatedAt: now, ExpiresAt: exp}),
		st.ReplaceRecoveryCodes(ctx, u.ID, []storage.Factor{
			{ID: "rc1-" + u.ID, Kind: storage.FactorRecovery, Secret: []byte("h1" + u.ID), ConfirmedAt: now, CreatedAt: now},
			{ID: "rc2-" + u.ID, Kind: storage.FactorRecovery, Secret: []byte("h2" + u.ID), ConfirmedAt: now, CreatedAt: now}}),
		st.CreateSession(ctx, storage.Session{Hash: "s-" + u.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: exp, IdleExpiresAt: exp}),
		st.CreateRefreshToken(ctx, storage.RefreshToken{Hash: "r-" + u.ID, FamilyID: "f-" + u.ID, ClientID: "c", UserID: u.ID, CreatedAt: now, ExpiresAt: exp}),
		st.CreateAccessToken(ctx, storage.AccessToken{Hash: "a-" + u.ID, FamilyID: "f-" + u.ID, ClientID: "c", UserID: u.ID, Subject: u.ID, CreatedAt: now, ExpiresAt: exp}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if u, err = st.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.MFASkipped, u.MFASkippedAt = true, now.Add(-time.Hour)
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	return u
}

// resetEnv is a service with a mailbox, the default org and a client for
// the users' tokens.
func resetEnv(t *testing.T) (*Service, *mailbox) {
	t.Helper()
	return resetEnvOn(t, newService(t))
}

func resetEnvOn(t *testing.T, s *Service) (*Service, *mailbox) {
	t.Helper()
	ctx := context.Background()
	mb := &mailbox{}
	s.Mail = mb
	if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateClient(ctx, "test", clients.Input{ID: "c", Name: "App", RedirectURIs: []string{"https://rp.example/cb"}}); err != nil {
		t.Fatal(err)
	}
	return s, mb
}

// wantReset checks that everything a reset removes is gone for u and that
// the next login must enrol method.
func wantReset(t *testing.T, s *Service, u storage.User, method string) {
	t.Helper()
	ctx := context.Background()
	st := backend(t, s)
	got, err := st.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MFASkipped || !got.MFASkippedAt.IsZero() || !got.MFAEnrollRequired || got.MFAEnrolMethod != method {
		t.Errorf("%s after the reset: skipped %v at %s, enrol required %v, method %q; want not skipped, enrol %q",
			u.Email, got.MFASkipped, got.MFASkippedAt, got.MFAEnrollRequired, got.MFAEnrolMethod, method)
	}
	if fs, err := st.ListFactors(ctx, u.ID, now); err != nil || len(fs) != 0 {
		t.Errorf("%s keeps factors %v (%v)", u.Email, fs, err)
	}
	if _, err := st.GetSession(ctx, "s-"+u.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s keeps a session: %v", u.Email, err)
	}
	if rt, err := st.GetRefreshToken(ctx, "r-"+u.ID); err != nil || rt.RevokedAt.IsZero() {
		t.Errorf("%s keeps a live refresh token: %+v %v", u.Email, rt, err)
	}
	if at, err := st.GetAccessToken(ctx, "a-"+u.ID); err != nil || at.RevokedAt.IsZero() {
		t.Errorf("%s keeps a live access token: %+v %v", u.Email, at, err)
	}
}

// TestResetMFA resets three users at once: each loses every factor,
// recovery codes included, "Skip for now", their sessions and tokens; the
// next login must enrol the method asked; one audit event and one notice
// each.
func TestResetMFA(t *testing.T) {
	eachStore(t, testResetMFA)
}

func testResetMFA(t *testing.T, s *Service) {
	ctx := context.Background()
	s, mb := resetEnvOn(t, s)
	var users []storage.User
	var refs []UserRef
	for _, e := range []string{"ann@example.com", "bob@example.com", "cy@example.com"} {
		u := mfaUser(t, s, "default", e)
		users = append(users, u)
		refs = append(refs, UserRef{Email: strings.ToUpper(e)})
	}
	refs[2] = UserRef{ID: users[2].ID} // by id, too
	res, err := s.ResetMFA(ctx, "cli:root", Everyone, refs, " TOTP ")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results; want 3", len(res))
	}
	for i, r := range res {
		if r.Err != nil || r.User.ID != users[i].ID || r.FactorsRemoved != 4 || r.SessionsEnded != 1 || r.TokensRevoked != 2 || !r.Notified {
			t.Errorf("result %d: %+v; want %s reset with 4 factors, 1 session and 2 tokens, notified", i, r, users[i].Email)
		}
		wantReset(t, s, users[i], "totp")
	}
	evs, err := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserMFAReset})
	if err != nil || len(evs) != 3 {
		t.Fatalf("%d user.mfa_reset events (%v); want 3", len(evs), err)
	}
	for _, e := range evs {
		if e.ActorID != "cli:root" || e.Details["method"] != "totp" || e.Details["factors_removed"] != "4" || e.OrgID == "" {
			t.Errorf("event %+v", e)
		}
	}
	want := "mfa_reset ann@example.com, mfa_reset bob@example.com, mfa_reset cy@example.com"
	if got := strings.Join(mb.sent, ", "); got != want {
		t.Errorf("notices %s; want %s", got, want)
	}
	if d := mb.data[0]; d.Org != "default" || d.User != "User ann@example.com" || d.Email != "ann@example.com" || d.Link != "" {
		t.Errorf("notice data %+v", d)
	}

	// Again, with any method: nothing left to remove, still a reset.
	res, err = s.ResetMFA(ctx, "cli:root", Everyone, refs[:1], "")
	if err != nil || res[0].Err != nil || res[0].FactorsRemoved != 0 {
		t.Fatalf("second reset: %+v, %v", res, err)
	}
	wantReset(t, s, users[0], "")
	if e, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserMFAReset, Limit: 1}); e[0].Details["method"] != "any" {
		t.Errorf("event of a reset to any method: %+v", e[0])
	}
}

// TestResetMFABatchErrors: an unknown user, a user out of reach or a
// method the organization does not allow fails that user alone; the
// others are reset. A bad method or no target refuses the whole call.
func TestResetMFABatchErrors(t *testing.T) {
	ctx := context.Background()
	s, mb := resetEnv(t)
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	ann := mfaUser(t, s, "default", "ann@example.com")
	bob := mfaUser(t, s, "default", "bob@example.com")
	eve := mfaUser(t, s, "acme", "eve@acme.example")
	if _, err := s.SetMFAPolicy(ctx, "test", "acme", MFAPolicyInput{Required: true, Methods: []string{"webauthn"}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.ResetMFA(ctx, "test", Everyone, []UserRef{{Email: "ann@example.com"}, {Email: "nobody@example.com"},
		{ID: "no-such-id"}, {Email: "eve@acme.example"}, {Email: "bob@example.com"}, {Email: "bad\x00@example.com"}}, "totp")
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []string{"", `no user with email "nobody@example.com"`, `no user with id "no-such-id"`,
		"organization acme does not allow totp; it allows on: webauthn", "", "no user with email"}
	for i, r := range res {
		var ie *InputError
		switch {
		case wantErr[i] == "" && r.Err != nil:
			t.Errorf("result %d: %v", i, r.Err)
		case wantErr[i] != "" && (!errors.As(r.Err, &ie) || !strings.Contains(ie.Msg, wantErr[i])):
			t.Errorf("result %d: %v; want an InputError %q", i, r.Err, wantErr[i])
		}
	}
	wantReset(t, s, ann, "totp")
	wantReset(t, s, bob, "totp")
	if u, _ := s.Store.GetUser(ctx, eve.ID); u.MFAEnrollRequired || !u.MFASkipped {
		t.Errorf("the refused user was changed: %+v", u)
	}
	if len(mb.sent) != 2 {
		t.Errorf("notices %v; want ann's and bob's", mb.sent)
	}

	// Out of reach is unknown, with the same words.
	res, err = s.ResetMFA(ctx, "api:oa", OrgsReach([]string{acme.ID}), []UserRef{{Email: "ann@example.com"}, {Email: "nobody@example.com"}, {ID: ann.ID}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err == nil || res[0].Err.Error() != `no user with email "ann@example.com"` || res[1].Err.Error() != `no user with email "nobody@example.com"` ||
		res[2].Err == nil || !errors.Is(res[2].Err, storage.ErrNotFound) {
		t.Fatalf("out of reach: %+v", res)
	}
	if evs, _ := backend(t, s).ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserMFAReset, UserID: ann.ID}); len(evs) != 1 {
		t.Fatalf("an out-of-reach reset was done: %d events", len(evs))
	}

	for _, tc := range []struct {
		name    string
		targets []UserRef
		method  string
		want    string
	}{
		{"recovery codes are no method", []UserRef{{Email: "ann@example.com"}}, "recovery", `"recovery" is not a second-factor method`},
		{"unknown method", []UserRef{{Email: "ann@example.com"}}, "pigeon", "the methods are webauthn, totp, sms, email"},
		{"nobody", nil, "", "at least one user"},
		{"too many", make([]UserRef, MaxResetTargets+1), "", "at most 1000"},
	} {
		var ie *InputError
		if _, err := s.ResetMFA(ctx, "test", Everyone, tc.targets, tc.method); !errors.As(err, &ie) || !strings.Contains(ie.Msg, tc.want) {
			t.Errorf("%s: %v; want an InputError %q", tc.name, err, tc.want)
		}
	}
}

// TestResetMFANotices: the notice is best effort and only for accounts
// that can sign in; without email configured there is none.
func TestResetMFANotices(t *testing.T) {
	ctx := context.Background()
	s, mb := resetEnv(t)
	ann := mfaUser(t, s, "default", "ann@example.com")
	mfaUser(t, s, "default", "dis@example.com")
	if _, err := s.DisableUser(ctx, "test", "dis@example.com"); err != nil {
		t.Fatal(err)
	}
	mb.fail = true
	res, err := s.ResetMFA(ctx, "test", Everyone, []UserRef{{Email: "ann@example.com"}, {Email: "dis@example.com"}}, "")
	if err != nil || res[0].Err != nil || res[0].Notified || res[1].Err != nil || res[1].Notified {
		t.Fatalf("results %+v, %v; want both reset, neither notified", res, err)
	}
	wantReset(t, s, ann, "")
	mb.fail = false
	if res, _ = s.ResetMFA(ctx, "test", Everyone, []UserRef{{Email: "dis@example.com"}}, ""); res[0].Notified || len(mb.sent) != 0 {
		t.Fatalf("a disabled user was notified: %v", mb.sent)
	}
	s.Mail = nil
	if res, _ = s.ResetMFA(ctx, "test", Everyone, []UserRef{{Email: "ann@example.com"}}, ""); res[0].Err != nil || res[0].Notified {
		t.Fatalf("without email: %+v", res[0])
	}
}

// TestResetOrgMFA resets a whole organization a page at a time, and
// nothing of another organization.
func TestResetOrgMFA(t *testing.T) {
	ctx := context.Background()
	s, _ := resetEnv(t)
	acme, err := s.CreateOrg(ctx, "test", CreateOrgInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	st := backend(t, s)
	const n = resetPage + 7
	for i := range n {
		if err := st.CreateUser(ctx, storage.User{ID: fmt.Sprintf("u%03d", i), OrgID: acme.ID, Email: fmt.Sprintf("u%03d@acme.example", i),
			State: storage.UserActive, MFASkipped: true, MFASkippedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	other := mfaUser(t, s, "default", "ann@example.com")
	var pages []int
	seen := map[string]bool{}
	err = s.ResetOrgMFA(ctx, "test", Everyone, "acme", "email", func(page []MFAReset) error {
		pages = append(pages, len(page))
		for _, r := range page {
			if r.Err != nil || seen[r.User.ID] || r.User.OrgID != acme.ID {
				t.Errorf("result %+v (seen before: %v)", r, seen[r.User.ID])
			}
			seen[r.User.ID] = true
		}
		return nil
	})
	if err != nil || len(pages) != 2 || pages[0] != resetPage || pages[1] != 7 || len(seen) != n {
		t.Fatalf("pages %v, %d users, %v; want %d users in pages of %d", pages, len(seen), err, n, resetPage)
	}
	if u, _ := st.GetUser(ctx, "u206"); !u.MFAEnrollRequired || u.MFAEnrolMethod != "email" || u.MFASkipped {
		t.Errorf("last user %+v", u)
	}
	if u, _ := st.GetUser(ctx, other.ID); u.MFAEnrollRequired || !u.MFASkipped {
		t.Errorf("a user of another organization was reset: %+v", u)
	}

	stop := errors.New("stop")
	calls := 0
	if err := s.ResetOrgMFA(ctx, "test", Everyone, "acme", "", func([]MFAReset) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("a failing consumer: %v after %d pages", err, calls)
	}
	var ie *InputError
	for _, tc := range []struct {
		name, org, method string
		reach             Reach
	}{
		{"unknown org", "nope", "", Everyone},
		{"org out of reach", "acme", "", OrgsReach([]string{other.OrgID})},
		{"bad method", "acme", "carrier pigeon", Everyone},
		{"nobody in reach", "acme", "", Reach{}},
	} {
		if err := s.ResetOrgMFA(ctx, "test", tc.reach, tc.org, tc.method, func([]MFAReset) error { t.Fatal(tc.name, ": reset something"); return nil }); !errors.As(err, &ie) {
			t.Errorf("%s: %v; want an InputError", tc.name, err)
		}
	}
}

// revokeFails is a whole store whose token revocation fails.
type revokeFails struct{ storage.Storage }

func (revokeFails) RevokeUserTokens(context.Context, string, time.Time) (int, error) {
	return 0, errors.New("revoke: disk I/O error")
}

// TestResetMFAIsOneUnit: when a step of a reset fails, none of it is kept:
// the factors, the skip, the sessions and the audit trail are as before,
// on every backend.
func TestResetMFAIsOneUnit(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := context.Background()
		s, mb := resetEnvOn(t, s)
		u := mfaUser(t, s, "default", "ann@example.com")
		st := backend(t, s)
		s.Store = revokeFails{st}
		res, err := s.ResetMFA(ctx, "test", Everyone, []UserRef{{Email: u.Email}}, "")
		if err != nil || res[0].Err == nil || res[0].Notified {
			t.Fatalf("reset with a failing step: %+v, %v; want that user's error, no notice", res, err)
		}
		got, _ := st.GetUser(ctx, u.ID)
		fs, _ := st.ListFactors(ctx, u.ID, now)
		_, serr := st.GetSession(ctx, "s-"+u.ID)
		evs, _ := st.ListAuditEvents(ctx, storage.AuditQuery{Type: audit.UserMFAReset})
		if !got.MFASkipped || got.MFAEnrollRequired || len(fs) != 4 || serr != nil || len(evs) != 0 || len(mb.sent) != 0 {
			t.Fatalf("half a reset was kept: user %+v, %d factors, session %v, %d events, mail %v", got, len(fs), serr, len(evs), mb.sent)
		}
	})
}
