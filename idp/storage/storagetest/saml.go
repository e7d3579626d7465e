package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The SAML front door's rows (storage.SAML): service providers, the ids of
// the requests they sent, persistent NameIDs, the providers a session
// signed in to, and single logouts in progress.
var samlTests = []testCase{
	{"ServiceProviderRoundTrip", testSPRoundTrip},
	{"ServiceProviderConflictAndNotFound", testSPConflictNotFound},
	{"ServiceProviderListByEntityID", testSPList},
	{"ServiceProviderUpdateKeepsKeyAndCreatedAt", testSPUpdate},
	{"ServiceProviderDeleteCascades", testSPDeleteCascades},
	{"RequestIDOnceThenReplay", testSAMLRequestIDOnce},
	{"RequestIDExpiredCountsAsNone", testSAMLRequestIDExpiry},
	{"RequestIDUnknownProviderIsConflict", testSAMLRequestIDUnknown},
	{"RequestIDConcurrentUsesOneWins", testSAMLRequestIDConcurrent},
	{"PersistentNameIDStable", testPersistentNameID},
	{"PersistentNameIDConcurrentCandidatesAgree", testPersistentNameIDConcurrent},
	{"PersistentNameIDUnknownIsConflict", testPersistentNameIDUnknown},
	{"Participants", testSAMLParticipants},
	{"ParticipantsMove", testSAMLParticipantsMove},
	{"Logouts", testSAMLLogouts},
	{"DeleteExpired", testSAMLDeleteExpired},
	{"ClientInitiateLoginURI", testClientInitiateLoginURI},
}

// newSP returns a provider with every field set.
func newSP(entityID string) storage.ServiceProvider {
	return storage.ServiceProvider{
		EntityID:          entityID,
		Name:              "Expenses ✓ " + entityID,
		Metadata:          []byte(`<md:EntityDescriptor entityID="` + entityID + `"/>`),
		MetadataURL:       entityID + "/metadata?x=1",
		MetadataFetchedAt: at(-2 * time.Hour),
		MetadataError:     "last fetch: 503",
		Settings: storage.SPSettings{
			NameIDFormats: []string{"emailAddress", "persistent"},
			Attributes: []storage.SAMLAttribute{{Source: "email", Name: "urn:oid:0.9.2342.19200300.100.1.3", NameFormat: "uri", FriendlyName: "mail"},
				{Source: "groups", Name: "memberOf"}},
			AllowIdPInitiated: true, DefaultRelayState: "/home", SignResponse: true, EncryptAssertions: true,
			RequireSignedRequests: true, RequireMFA: true,
		},
		Source:    "api",
		CreatedAt: at(-3 * time.Hour),
		UpdatedAt: at(-time.Hour),
	}
}

func (f *fixture) createSP(t *testing.T, p storage.ServiceProvider) storage.ServiceProvider {
	t.Helper()
	mustOK(t, f.s.CreateServiceProvider(f.ctx, p), "CreateServiceProvider "+p.EntityID)
	return p
}

func (f *fixture) checkSP(t *testing.T, what string, want storage.ServiceProvider) {
	t.Helper()
	got, err := f.s.GetServiceProvider(f.ctx, want.EntityID)
	if checkOK(t, err, what+": GetServiceProvider") {
		checkEqual(t, what, want, got)
	}
}

const spA, spB = "https://a.example/saml/metadata", "https://b.example/saml/metadata"

func testSPRoundTrip(t *testing.T, f *fixture) {
	f.checkSP(t, "full provider", f.createSP(t, newSP(spA)))
	bare := storage.ServiceProvider{EntityID: spB, Source: "config", CreatedAt: at(0), UpdatedAt: at(0)}
	f.checkSP(t, "bare provider", f.createSP(t, bare))
}

func testSPConflictNotFound(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	checkErr(t, f.s.CreateServiceProvider(f.ctx, newSP(spA)), storage.ErrConflict, "CreateServiceProvider of a taken entity id")
	_, err := f.s.GetServiceProvider(f.ctx, spB)
	checkErr(t, err, storage.ErrNotFound, "GetServiceProvider of an unknown one")
	_, err = f.s.UpdateServiceProvider(f.ctx, spB, func(p storage.ServiceProvider) (storage.ServiceProvider, error) { return p, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateServiceProvider of an unknown one")
	checkErr(t, f.s.DeleteServiceProvider(f.ctx, spB), storage.ErrNotFound, "DeleteServiceProvider of an unknown one")
}

func testSPList(t *testing.T, f *fixture) {
	got, err := f.s.ListServiceProviders(f.ctx)
	if checkOK(t, err, "ListServiceProviders of none") && len(got) != 0 {
		t.Errorf("ListServiceProviders of none = %d", len(got))
	}
	b, a := f.createSP(t, newSP(spB)), f.createSP(t, newSP(spA))
	got, err = f.s.ListServiceProviders(f.ctx)
	if checkOK(t, err, "ListServiceProviders") {
		checkEqual(t, "ListServiceProviders", []storage.ServiceProvider{a, b}, got)
	}
}

func testSPUpdate(t *testing.T, f *fixture) {
	p := f.createSP(t, newSP(spA))
	got, err := f.s.UpdateServiceProvider(f.ctx, spA, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		checkEqual(t, "UpdateServiceProvider sees", p, cur)
		cur.EntityID, cur.CreatedAt = spB, at(time.Hour)
		cur.Name, cur.Metadata, cur.MetadataError = "Renamed", []byte("<new/>"), ""
		cur.Settings = storage.SPSettings{}
		cur.UpdatedAt = at(2 * time.Hour)
		return cur, nil
	})
	want := p
	want.Name, want.Metadata, want.MetadataError, want.Settings, want.UpdatedAt = "Renamed", []byte("<new/>"), "", storage.SPSettings{}, at(2*time.Hour)
	if checkOK(t, err, "UpdateServiceProvider") {
		checkEqual(t, "UpdateServiceProvider returns", want, got)
	}
	f.checkSP(t, "after the update", want)
	_, err = f.s.GetServiceProvider(f.ctx, spB)
	checkErr(t, err, storage.ErrNotFound, "the update moved the provider")
}

func testSPDeleteCascades(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createSP(t, newSP(spA))
	f.createSP(t, newSP(spB))
	mustOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", at(time.Hour), at(0)), "UseSAMLRequestID")
	nameA, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "cand-a")
	mustOK(t, err, "PersistentNameID")
	_, err = f.s.PersistentNameID(f.ctx, spB, b.user.ID, "cand-b")
	mustOK(t, err, "PersistentNameID at B")
	for _, e := range []string{spA, spB} {
		mustOK(t, f.s.AddSAMLParticipant(f.ctx, newParticipant(h("sess"), e, at(0))), "AddSAMLParticipant")
	}
	mustOK(t, f.s.DeleteServiceProvider(f.ctx, spA), "DeleteServiceProvider")
	// Created again: no trace of the old one.
	f.createSP(t, newSP(spA))
	checkOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", at(time.Hour), at(0)), "the request id after the delete")
	if got, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "cand-new"); checkOK(t, err, "PersistentNameID after the delete") && (got != "cand-new" || got == nameA) {
		t.Errorf("PersistentNameID after the delete = %q, want the new candidate", got)
	}
	parts, err := f.s.ListSAMLParticipants(f.ctx, h("sess"), at(0))
	if checkOK(t, err, "ListSAMLParticipants") && (len(parts) != 1 || parts[0].EntityID != spB) {
		t.Errorf("participants after the delete: %+v", parts)
	}
	// A user's NameIDs go with the user.
	mustOK(t, f.s.DeleteUser(f.ctx, b.user.ID), "DeleteUser")
	u := f.createUser(t, newUser(b.user.ID, b.org.ID, "again@acme.example"))
	if got, err := f.s.PersistentNameID(f.ctx, spB, u.ID, "cand-c"); checkOK(t, err, "PersistentNameID of the new user") && got != "cand-c" {
		t.Errorf("a deleted user's NameID survived: %q", got)
	}
}

func testSAMLRequestIDOnce(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	f.createSP(t, newSP(spB))
	exp := at(5 * time.Minute)
	mustOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-8e8dc5f6", exp, at(0)), "first UseSAMLRequestID")
	for _, now := range []time.Time{at(0), at(time.Second), exp.Add(-time.Microsecond)} {
		checkErr(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-8e8dc5f6", exp, now), storage.ErrAlreadyUsed, "replayed at "+fmtTime(now))
	}
	checkOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "ID-8E8DC5F6", exp, at(0)), "ids are compared exactly")
	checkOK(t, f.s.UseSAMLRequestID(f.ctx, spB, "id-8e8dc5f6", exp, at(0)), "the same id at another provider")
}

func testSAMLRequestIDExpiry(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	first, second := at(time.Minute), at(10*time.Minute)
	mustOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", first, at(0)), "UseSAMLRequestID")
	checkErr(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", second, first.Add(-time.Microsecond)), storage.ErrAlreadyUsed, "before expiry")
	checkOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", second, first), "at the record's expiry")
	checkErr(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", at(time.Hour), first.Add(time.Minute)), storage.ErrAlreadyUsed, "before the new expiry")
}

func testSAMLRequestIDUnknown(t *testing.T, f *fixture) {
	checkErr(t, f.s.UseSAMLRequestID(f.ctx, spA, "id-1", at(time.Minute), at(0)), storage.ErrConflict, "UseSAMLRequestID of an unknown provider")
}

func testSAMLRequestIDConcurrent(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	const n = 8
	errs := make([]error, n)
	race(n, func(i int) { errs[i] = f.s.UseSAMLRequestID(f.ctx, spA, "id-race", at(time.Hour), at(0)) })
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errorIs(err, storage.ErrAlreadyUsed):
		default:
			t.Errorf("UseSAMLRequestID in a race: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent uses won, want 1", won, n)
	}
}

func testPersistentNameID(t *testing.T, f *fixture) {
	b := f.base(t)
	bob := f.createUser(t, newUser("user-2", b.org.ID, "bob@acme.example"))
	f.createSP(t, newSP(spA))
	f.createSP(t, newSP(spB))
	first, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "pairwise-1")
	if checkOK(t, err, "PersistentNameID") && first != "pairwise-1" {
		t.Errorf("first PersistentNameID = %q, want the candidate", first)
	}
	if got, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "pairwise-2"); checkOK(t, err, "again") && got != first {
		t.Errorf("PersistentNameID again = %q, want %q", got, first)
	}
	if got, err := f.s.PersistentNameID(f.ctx, spB, b.user.ID, "pairwise-3"); checkOK(t, err, "at B") && got != "pairwise-3" {
		t.Errorf("PersistentNameID at B = %q", got)
	}
	// An empty candidate only looks.
	if got, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, ""); checkOK(t, err, "look up") && got != first {
		t.Errorf("look up = %q, want %q", got, first)
	}
	_, err = f.s.PersistentNameID(f.ctx, spA, bob.ID, "")
	checkErr(t, err, storage.ErrNotFound, "look up of a user with none")
	// Another user cannot be given a NameID the provider already knows.
	_, err = f.s.PersistentNameID(f.ctx, spA, bob.ID, "pairwise-1")
	checkErr(t, err, storage.ErrConflict, "PersistentNameID of a taken NameID")
}

func testPersistentNameIDConcurrent(t *testing.T, f *fixture) {
	b := f.base(t)
	f.createSP(t, newSP(spA))
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	race(n, func(i int) { got[i], errs[i] = f.s.PersistentNameID(f.ctx, spA, b.user.ID, fmt.Sprintf("cand-%d", i)) })
	for i := range n {
		if errs[i] != nil {
			t.Errorf("PersistentNameID in a race: %v", errs[i])
		} else if got[i] != got[0] {
			t.Errorf("callers disagree: %q and %q", got[0], got[i])
		}
	}
}

func testPersistentNameIDUnknown(t *testing.T, f *fixture) {
	b := f.base(t)
	_, err := f.s.PersistentNameID(f.ctx, spA, b.user.ID, "c")
	checkErr(t, err, storage.ErrConflict, "PersistentNameID at an unknown provider")
	f.createSP(t, newSP(spA))
	_, err = f.s.PersistentNameID(f.ctx, spA, "no-such-user", "c")
	checkErr(t, err, storage.ErrConflict, "PersistentNameID of an unknown user")
}

func newParticipant(session, entityID string, created time.Time) storage.SAMLParticipant {
	return storage.SAMLParticipant{SessionHash: session, EntityID: entityID, NameID: "nid-" + entityID,
		NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", SPNameQualifier: entityID,
		SessionIndex: "gh_idx", CreatedAt: created, ExpiresAt: at(12 * time.Hour)}
}

func testSAMLParticipants(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	f.createSP(t, newSP(spB))
	s1, s2 := h("sess-1"), h("sess-2")
	b := newParticipant(s1, spB, at(0))
	a := newParticipant(s1, spA, at(time.Minute))
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, b), "AddSAMLParticipant B")
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, a), "AddSAMLParticipant A")
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, newParticipant(s2, spA, at(0))), "AddSAMLParticipant of another session")
	got, err := f.s.ListSAMLParticipants(f.ctx, s1, at(0))
	if checkOK(t, err, "ListSAMLParticipants") {
		checkEqual(t, "participants, oldest first", []storage.SAMLParticipant{b, a}, got)
	}
	// The same provider again replaces its record.
	b2 := b
	b2.NameID, b2.SessionIndex, b2.CreatedAt = "_transient", "gh_idx2", at(2*time.Minute)
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, b2), "AddSAMLParticipant again")
	got, err = f.s.ListSAMLParticipants(f.ctx, s1, at(0))
	if checkOK(t, err, "ListSAMLParticipants after the replace") {
		checkEqual(t, "participants after the replace", []storage.SAMLParticipant{a, b2}, got)
	}
	// Expired records are not listed.
	got, err = f.s.ListSAMLParticipants(f.ctx, s1, at(12*time.Hour))
	if checkOK(t, err, "ListSAMLParticipants at the end") && len(got) != 0 {
		t.Errorf("expired participants listed: %+v", got)
	}
	mustOK(t, f.s.DeleteSAMLParticipants(f.ctx, s1), "DeleteSAMLParticipants")
	mustOK(t, f.s.DeleteSAMLParticipants(f.ctx, h("none")), "DeleteSAMLParticipants of a session without any")
	got, _ = f.s.ListSAMLParticipants(f.ctx, s1, at(0))
	other, _ := f.s.ListSAMLParticipants(f.ctx, s2, at(0))
	if len(got) != 0 || len(other) != 1 {
		t.Errorf("after the delete: %d of the session, %d of the other (want 0, 1)", len(got), len(other))
	}
	checkErr(t, f.s.AddSAMLParticipant(f.ctx, newParticipant(s1, "https://unknown.example/", at(0))), storage.ErrConflict,
		"AddSAMLParticipant of an unknown provider")
}

func testSAMLParticipantsMove(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	f.createSP(t, newSP(spB))
	from, to := h("old"), h("new")
	a := newParticipant(from, spA, at(0))
	b := newParticipant(from, spB, at(time.Minute))
	stale := newParticipant(to, spA, at(2*time.Minute))
	stale.NameID = "stale"
	for _, p := range []storage.SAMLParticipant{a, b, stale} {
		mustOK(t, f.s.AddSAMLParticipant(f.ctx, p), "AddSAMLParticipant")
	}
	mustOK(t, f.s.MoveSAMLParticipants(f.ctx, from, to), "MoveSAMLParticipants")
	mustOK(t, f.s.MoveSAMLParticipants(f.ctx, to, to), "MoveSAMLParticipants onto itself")
	got, err := f.s.ListSAMLParticipants(f.ctx, to, at(0))
	a.SessionHash, b.SessionHash = to, to
	if checkOK(t, err, "ListSAMLParticipants of the new session") {
		checkEqual(t, "moved participants", []storage.SAMLParticipant{a, b}, got)
	}
	if old, _ := f.s.ListSAMLParticipants(f.ctx, from, at(0)); len(old) != 0 {
		t.Errorf("the old session kept %d", len(old))
	}
}

func testSAMLLogouts(t *testing.T, f *fixture) {
	l := storage.SAMLLogout{ID: "lo-1", State: []byte(`{"pending":["a"]}`), CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}
	mustOK(t, f.s.CreateSAMLLogout(f.ctx, l), "CreateSAMLLogout")
	checkErr(t, f.s.CreateSAMLLogout(f.ctx, l), storage.ErrConflict, "CreateSAMLLogout of a taken id")
	if got, err := f.s.GetSAMLLogout(f.ctx, l.ID, at(time.Minute)); checkOK(t, err, "GetSAMLLogout") {
		checkEqual(t, "logout", l, got)
	}
	got, err := f.s.UpdateSAMLLogout(f.ctx, l.ID, at(time.Minute), func(cur storage.SAMLLogout) (storage.SAMLLogout, error) {
		cur.ID, cur.CreatedAt, cur.ExpiresAt, cur.State = "moved", at(time.Hour), at(48*time.Hour), []byte(`{"pending":[]}`)
		return cur, nil
	})
	want := l
	want.State = []byte(`{"pending":[]}`)
	if checkOK(t, err, "UpdateSAMLLogout") {
		checkEqual(t, "UpdateSAMLLogout keeps id and times", want, got)
	}
	_, err = f.s.GetSAMLLogout(f.ctx, l.ID, l.ExpiresAt)
	checkErr(t, err, storage.ErrNotFound, "GetSAMLLogout at its expiry")
	_, err = f.s.UpdateSAMLLogout(f.ctx, l.ID, l.ExpiresAt, func(cur storage.SAMLLogout) (storage.SAMLLogout, error) { return cur, nil })
	checkErr(t, err, storage.ErrNotFound, "UpdateSAMLLogout at its expiry")
	_, err = f.s.GetSAMLLogout(f.ctx, "nope", at(0))
	checkErr(t, err, storage.ErrNotFound, "GetSAMLLogout of an unknown one")
	mustOK(t, f.s.DeleteSAMLLogout(f.ctx, l.ID), "DeleteSAMLLogout")
	checkErr(t, f.s.DeleteSAMLLogout(f.ctx, l.ID), storage.ErrNotFound, "DeleteSAMLLogout again")
}

func testSAMLDeleteExpired(t *testing.T, f *fixture) {
	f.createSP(t, newSP(spA))
	now := at(time.Hour)
	mustOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "old", at(30*time.Minute), at(0)), "UseSAMLRequestID old")
	mustOK(t, f.s.UseSAMLRequestID(f.ctx, spA, "live", at(2*time.Hour), at(0)), "UseSAMLRequestID live")
	old := newParticipant(h("s-old"), spA, at(0))
	old.ExpiresAt = at(30 * time.Minute)
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, old), "AddSAMLParticipant old")
	mustOK(t, f.s.AddSAMLParticipant(f.ctx, newParticipant(h("s-live"), spA, at(0))), "AddSAMLParticipant live")
	mustOK(t, f.s.CreateSAMLLogout(f.ctx, storage.SAMLLogout{ID: "old", State: []byte("{}"), CreatedAt: at(0), ExpiresAt: at(10 * time.Minute)}), "old logout")
	mustOK(t, f.s.CreateSAMLLogout(f.ctx, storage.SAMLLogout{ID: "live", State: []byte("{}"), CreatedAt: at(0), ExpiresAt: at(2 * time.Hour)}), "live logout")
	n, err := f.s.DeleteExpired(f.ctx, now)
	if checkOK(t, err, "DeleteExpired") && n != 3 {
		t.Errorf("DeleteExpired = %d, want 3", n)
	}
	checkErr(t, f.s.UseSAMLRequestID(f.ctx, spA, "live", at(3*time.Hour), now), storage.ErrAlreadyUsed, "the live request id")
	if _, err := f.s.GetSAMLLogout(f.ctx, "live", now); !checkOK(t, err, "the live logout") {
		return
	}
	_, err = f.s.GetSAMLLogout(f.ctx, "old", at(0))
	checkErr(t, err, storage.ErrNotFound, "the expired logout, read as of before its end")
	if got, _ := f.s.ListSAMLParticipants(f.ctx, h("s-old"), at(0)); len(got) != 0 {
		t.Error("the expired participant is still stored")
	}
}

func testClientInitiateLoginURI(t *testing.T, f *fixture) {
	b := f.base(t)
	got, err := f.s.GetClient(f.ctx, b.client.ID)
	if checkOK(t, err, "GetClient") && got.InitiateLoginURI != b.client.InitiateLoginURI {
		t.Errorf("InitiateLoginURI = %q, want %q", got.InitiateLoginURI, b.client.InitiateLoginURI)
	}
}
