package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

var authRequestTests = []testCase{
	{"RoundTrip", testAuthRequestRoundTrip},
	{"MaxAge", testAuthRequestMaxAge},
	{"DoorData", testAuthRequestDoorData},
	{"Upstream", testAuthRequestUpstream},
	{"UpdateThroughSteps", testAuthRequestUpdate},
	{"NotFound", testAuthRequestNotFound},
	{"CreateConflict", testAuthRequestCreateConflict},
	{"Delete", testAuthRequestDelete},
}

// fullAuthRequest is a request late in its flow, with every field set.
func fullAuthRequest(id, clientID, orgID, userID, sessionID string) storage.AuthRequest {
	r := newAuthRequest(id, clientID)
	r.Protocol = "oidc"
	r.Prompt = []string{"login", "consent"}
	r.MaxAge = ptr(int64(300))
	r.LoginHint = "alice@acme.example"
	r.ACRValues = []string{"urn:gatehouse:mfa", "phr"}
	r.UILocales = []string{"de-CH", "en"}
	r.SubjectHint = "user-hinted"
	r.DoorData = []byte(`{"saml_request_id":"_a1b2","relay_state":"x&y=<z>"}`)
	r.FlowData = []byte(`{"enrol":{"method":"totp","factor":"f-1"}}`)
	r.Step = "mfa_verify"
	r.OrgID = orgID
	r.UserID = userID
	r.SessionID = sessionID
	r.AuthTime = at(-30 * time.Second)
	r.AMR = []string{"pwd"}
	r.Upstream = newUpstream()
	r.Attempts = 2
	return r
}

// newUpstream is an upstream identity with every field set.
func newUpstream() *storage.UpstreamLogin {
	return &storage.UpstreamLogin{
		ConnectorID:   "acme-okta",
		Subject:       "00u1abcd – Ünïcode ✓",
		Email:         "Alice.O'Brien@Acme.example",
		EmailVerified: true,
		Name:          "Alice \"Al\" O'Brien",
		Groups:        []string{"acme:admins", "acme:users"},
		AMR:           []string{"pwd", "mfa"},
		ACR:           "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
		Linked:        true,
	}
}

func testAuthRequestRoundTrip(t *testing.T, f *fixture) {
	b := f.base(t)
	sess := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	saml := newAuthRequest("ar-saml", b.client.ID)
	saml.Protocol = "saml"
	saml.OIDC = nil // another door's request has no OIDC data, and reads back nil
	saml.DoorData = []byte(`{"request_id":"_id-42","relay_state":"https://sp.example/return?a=1&b=ü"}`)
	for _, r := range []storage.AuthRequest{
		newAuthRequest("ar-initial", b.client.ID),
		fullAuthRequest("ar-full", b.client.ID, b.org.ID, b.user.ID, sess.Hash),
		saml,
	} {
		mustOK(t, f.s.CreateAuthRequest(f.ctx, r), "CreateAuthRequest "+r.ID)
		got, err := f.s.GetAuthRequest(f.ctx, r.ID)
		if checkOK(t, err, "GetAuthRequest "+r.ID) {
			checkEqual(t, "GetAuthRequest "+r.ID, r, got)
			if r.AuthTime.IsZero() && !got.AuthTime.IsZero() {
				t.Errorf("%s: zero AuthTime came back as %s", r.ID, fmtTime(got.AuthTime))
			}
		}
	}
}

// testAuthRequestMaxAge: max_age=0 means "authenticate now" and must not
// collapse into "no max_age" (nil), nor the other way round.
func testAuthRequestMaxAge(t *testing.T, f *fixture) {
	b := f.base(t)
	for _, c := range []struct {
		name   string
		maxAge *int64
	}{
		{"nil", nil},
		{"zero", ptr(int64(0))},
		{"thirty", ptr(int64(30))},
		{"large", ptr(int64(1) << 40)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newAuthRequest("ar-"+c.name, b.client.ID)
			r.MaxAge = c.maxAge
			mustOK(t, f.s.CreateAuthRequest(f.ctx, r), "CreateAuthRequest")
			got, err := f.s.GetAuthRequest(f.ctx, r.ID)
			mustOK(t, err, "GetAuthRequest")
			checkEqual(t, "GetAuthRequest", r, got)

			// An update that does not touch MaxAge keeps it as it was.
			got, err = f.s.UpdateAuthRequest(f.ctx, r.ID, func(cur storage.AuthRequest) (storage.AuthRequest, error) {
				cur.Step = "authenticate"
				return cur, nil
			})
			mustOK(t, err, "UpdateAuthRequest")
			want := r
			want.Step = "authenticate"
			checkEqual(t, "UpdateAuthRequest result", want, got)
			got, err = f.s.GetAuthRequest(f.ctx, r.ID)
			mustOK(t, err, "GetAuthRequest after update")
			checkEqual(t, "GetAuthRequest after an update that keeps MaxAge", want, got)
		})
	}
}

// testAuthRequestDoorData: a door's opaque JSON comes back byte for byte,
// empty reads back nil, and anything but JSON is refused with nothing
// stored.
func testAuthRequestDoorData(t *testing.T, f *fixture) {
	b := f.base(t)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"object", []byte(`{"relay_state":"abc"}`)},
		{"special characters", []byte(`{"quote\"key":"value with \"quotes\" and \\backslash\\","unicode":"Grüße – 日本語 – 🙂","newline":"a\nb\tc","xml":"<samlp:AuthnRequest ID=\"_1\"/>"}`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newAuthRequest("ar-"+c.name, b.client.ID)
			r.DoorData = c.data
			mustOK(t, f.s.CreateAuthRequest(f.ctx, r), "CreateAuthRequest")
			got, err := f.s.GetAuthRequest(f.ctx, r.ID)
			want := r
			if len(c.data) == 0 {
				want.DoorData = nil
			}
			if checkOK(t, err, "GetAuthRequest") {
				checkEqual(t, "GetAuthRequest", want, got)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		r := newAuthRequest("ar-not-json", b.client.ID)
		r.DoorData = []byte("\x00\xff not json")
		if err := f.s.CreateAuthRequest(f.ctx, r); err == nil {
			t.Fatal("CreateAuthRequest stored door data that is not JSON")
		}
		_, err := f.s.GetAuthRequest(f.ctx, r.ID)
		checkErr(t, err, storage.ErrNotFound, "GetAuthRequest after a refused create")
	})
}

// testAuthRequestUpstream: the identity an upstream proved round-trips
// whole; a local login's nil stays nil, also through updates that do not
// touch it; the flow can set it, mark it linked and clear it.
func testAuthRequestUpstream(t *testing.T, f *fixture) {
	b := f.base(t)
	bare := &storage.UpstreamLogin{ConnectorID: "acme-saml", Subject: "s", Groups: []string{}, AMR: []string{}}
	for _, c := range []struct {
		name     string
		upstream *storage.UpstreamLogin
	}{
		{"nil", nil},
		{"full", newUpstream()},
		{"bare", bare},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newAuthRequest("ar-"+c.name, b.client.ID)
			r.Upstream = c.upstream
			f.createAuthRequest(t, r)
			got, err := f.s.GetAuthRequest(f.ctx, r.ID)
			if checkOK(t, err, "GetAuthRequest") {
				checkEqual(t, "GetAuthRequest", r, got)
			}
			want := r
			want.Step = "authenticate"
			got, err = f.s.UpdateAuthRequest(f.ctx, r.ID, func(cur storage.AuthRequest) (storage.AuthRequest, error) {
				cur.Step = want.Step
				return cur, nil
			})
			if checkOK(t, err, "UpdateAuthRequest") {
				checkEqual(t, "UpdateAuthRequest result", want, got)
			}
			if got, err := f.s.GetAuthRequest(f.ctx, r.ID); checkOK(t, err, "GetAuthRequest after update") {
				checkEqual(t, "GetAuthRequest after an update that keeps Upstream", want, got)
			}
		})
	}

	r := f.createAuthRequest(t, newAuthRequest("ar-flow", b.client.ID))
	for i, change := range []func(*storage.AuthRequest){
		func(r *storage.AuthRequest) { r.Step, r.Upstream = "link", newUpstream() },
		func(r *storage.AuthRequest) { r.Upstream.Linked, r.UserID = false, b.user.ID },
		func(r *storage.AuthRequest) { r.Upstream.Linked, r.Upstream.Email = true, "alice@acme.example" },
		func(r *storage.AuthRequest) { r.Upstream = nil },
	} {
		want := r
		if r.Upstream != nil {
			u := *r.Upstream
			want.Upstream = &u
		}
		change(&want)
		_, err := f.s.UpdateAuthRequest(f.ctx, r.ID, func(cur storage.AuthRequest) (storage.AuthRequest, error) {
			change(&cur)
			return cur, nil
		})
		mustOK(t, err, fmt.Sprintf("UpdateAuthRequest %d", i))
		got, err := f.s.GetAuthRequest(f.ctx, r.ID)
		if checkOK(t, err, "GetAuthRequest") {
			checkEqual(t, fmt.Sprintf("auth request after update %d", i), want, got)
		}
		r = want
	}
}

func testAuthRequestUpdate(t *testing.T, f *fixture) {
	b := f.base(t)
	sess := f.createSession(t, newSession(h("sess-1"), b.user.ID))
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))

	steps := []func(*storage.AuthRequest){
		func(r *storage.AuthRequest) { r.Step = "authenticate"; r.OrgID = b.org.ID; r.LoginHint = "alice" },
		func(r *storage.AuthRequest) { r.Attempts++ },
		func(r *storage.AuthRequest) {
			r.Step = "mfa_verify"
			r.UserID = b.user.ID
			r.AuthTime = at(time.Second)
			r.AMR = []string{"pwd"}
		},
		func(r *storage.AuthRequest) {
			r.Step = "finish"
			r.AMR = append(r.AMR, "otp")
			r.SessionID = sess.Hash
			r.DoorData = []byte(`{"k":"v"}`)
		},
	}
	want := r
	for i, step := range steps {
		prev := want
		step(&want)
		got, err := f.s.UpdateAuthRequest(f.ctx, r.ID, func(cur storage.AuthRequest) (storage.AuthRequest, error) {
			checkEqual(t, "row seen by the update function", prev, cur)
			step(&cur)
			return cur, nil
		})
		mustOK(t, err, "UpdateAuthRequest")
		checkEqual(t, "UpdateAuthRequest result", want, got)
		got, err = f.s.GetAuthRequest(f.ctx, r.ID)
		mustOK(t, err, "GetAuthRequest")
		if d := diff(want, got); len(d) > 0 {
			t.Errorf("after update step %d the stored request differs:\n  %s", i+1, joinLines(d))
		}
	}
}

func testAuthRequestNotFound(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	_, err := f.s.GetAuthRequest(f.ctx, "ar-missing")
	checkErr(t, err, storage.ErrNotFound, "GetAuthRequest of a missing id")
	_, err = f.s.UpdateAuthRequest(f.ctx, "ar-missing", func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateAuthRequest of a missing id")
	checkErr(t, f.s.DeleteAuthRequest(f.ctx, "ar-missing"), storage.ErrNotFound, "DeleteAuthRequest of a missing id")
}

func testAuthRequestCreateConflict(t *testing.T, f *fixture) {
	b := f.base(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	dup := newAuthRequest("ar-1", b.client.ID)
	dup.OIDC.State = "attacker-state"
	checkErr(t, f.s.CreateAuthRequest(f.ctx, dup), storage.ErrConflict, "CreateAuthRequest with a taken id")
	got, err := f.s.GetAuthRequest(f.ctx, r.ID)
	if checkOK(t, err, "GetAuthRequest") {
		checkEqual(t, "auth request after a conflicting create", r, got)
	}
}

func testAuthRequestDelete(t *testing.T, f *fixture) {
	b := f.base(t)
	r := f.createAuthRequest(t, newAuthRequest("ar-1", b.client.ID))
	keep := f.createAuthRequest(t, newAuthRequest("ar-2", b.client.ID))
	mustOK(t, f.s.DeleteAuthRequest(f.ctx, r.ID), "DeleteAuthRequest")
	_, err := f.s.GetAuthRequest(f.ctx, r.ID)
	checkErr(t, err, storage.ErrNotFound, "GetAuthRequest after delete")
	checkErr(t, f.s.DeleteAuthRequest(f.ctx, r.ID), storage.ErrNotFound, "second DeleteAuthRequest")
	got, err := f.s.GetAuthRequest(f.ctx, keep.ID)
	if checkOK(t, err, "GetAuthRequest of another request") {
		checkEqual(t, "other auth request", keep, got)
	}
}
