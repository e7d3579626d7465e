package samlidp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// assertionLifetime bounds an assertion and its bearer confirmation: long
// enough for a slow browser and clock skew, short enough that a captured
// one is soon useless.
const assertionLifetime = 5 * time.Minute

// serveContinue answers the service provider once the flow is done. As the
// OIDC callback does, it completes the request in the flow (once, for the
// browser that finished the login) in one transaction with what the
// Response names: the persistent NameID and the session's participant
// record, which single logout reads.
func (p *Provider) serveContinue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	b, err := p.opts.Sessions.Browser(r)
	if err != nil {
		p.fail(w, r, "continue: session", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	var ar storage.AuthRequest
	var subj subject
	var refusal *saml.StatusError
	err = storage.Atomically(ctx, p.opts.Store, func(ctx context.Context) error {
		var err error
		if ar, err = p.opts.Flow.Complete(ctx, id, b); err != nil {
			return err
		}
		subj, refusal, err = p.subject(ctx, ar, b)
		return err
	})
	switch {
	case errors.Is(err, authflow.ErrIncomplete):
		// Reached before the login finished: tell the provider.
		if ar, lerr := p.opts.Flow.Load(ctx, id); lerr == nil {
			p.sendStatus(w, r, ar, &saml.StatusError{TopLevel: saml.StatusResponder, SecondLevel: saml.StatusAuthnFailed,
				Message: "the login is not complete"})
			return
		}
		p.fail(w, r, "continue: incomplete", err, http.StatusBadRequest, msgLinkExpired)
		return
	case errors.Is(err, authflow.ErrRequestGone):
		p.fail(w, r, "continue: load auth request", err, http.StatusBadRequest, msgLinkExpired)
		return
	case errors.Is(err, authflow.ErrWrongBrowser):
		p.fail(w, r, "continue: browser session does not match the login", err, http.StatusBadRequest, msgOtherBrowser)
		return
	case errors.Is(err, authflow.ErrOutOfTurn):
		p.fail(w, r, "continue: response already issued", err, http.StatusBadRequest, msgCompleted)
		return
	case errors.Is(err, errGone):
		p.fail(w, r, "continue: provider or user gone", err, http.StatusBadRequest, msgUnknownApp)
		return
	case err != nil:
		p.fail(w, r, "continue: complete", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	if refusal != nil {
		p.sendStatus(w, r, ar, refusal)
		return
	}
	a, err := p.rebuild(r, ar)
	if err != nil {
		p.failRebuild(w, r, err)
		return
	}
	if err := a.respond(ar, subj); err != nil {
		var st *saml.StatusError
		if errors.As(err, &st) {
			if err := a.idp.SendErrorResponse(w, a.req, st); err != nil {
				p.fail(w, r, "continue: send status", err, http.StatusServiceUnavailable, msgUnavailable)
			}
			return
		}
		p.fail(w, r, "continue: make response", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	form, err := a.req.PostBinding()
	if err != nil {
		p.fail(w, r, "continue: post binding", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	p.post(w, r, form)
}

// errGone: the service provider, its endpoint or the user is no longer
// there.
var errGone = errors.New("samlidp: gone")

// answer is an auth request rebuilt as the library's request, ready for a
// Response.
type answer struct {
	p   *Provider
	idp *saml.IdentityProvider
	req *saml.IdpAuthnRequest
	sp  storage.ServiceProvider
}

// rebuild makes the library's request again from what begin kept: the
// validated AuthnRequest, the provider's current metadata, and the ACS
// endpoint chosen then, which must still be in it.
func (p *Provider) rebuild(r *http.Request, ar storage.AuthRequest) (*answer, error) {
	ctx := r.Context()
	d, err := readDoorData(ar)
	if err != nil {
		return nil, err
	}
	sp, err := p.opts.Store.GetServiceProvider(ctx, ar.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w: provider %q", errGone, ar.ClientID)
	} else if err != nil {
		return nil, err
	}
	ed, err := descriptor(sp)
	if err != nil {
		return nil, err
	}
	idp, err := p.identityProvider(ctx)
	if err != nil {
		return nil, err
	}
	// The library writes the request's RemoteAddr into the assertion
	// (SubjectConfirmationData and SubjectLocality Address): behind a
	// trusted proxy that must be the client's, not the proxy's.
	hr := r
	if ip := httpserver.ClientIP(ctx); ip != "" {
		c := *r
		c.RemoteAddr = ip
		hr = &c
	}
	req := &saml.IdpAuthnRequest{IDP: idp, HTTPRequest: hr, RelayState: d.RelayState, ServiceProviderMetadata: ed, Now: p.now()}
	if len(d.Request) > 0 {
		if err := xml.Unmarshal(d.Request, &req.Request); err != nil {
			return nil, fmt.Errorf("samlidp: kept request of %s: %w", ar.ID, err)
		}
	}
	for i := range ed.SPSSODescriptors {
		for _, ep := range ed.SPSSODescriptors[i].AssertionConsumerServices {
			if ep.Location == d.ACS.Location && ep.Binding == d.ACS.Binding && ep.Index == d.ACS.Index {
				desc := ed.SPSSODescriptors[i]
				req.SPSSODescriptor, req.ACSEndpoint = &desc, &ep
				return &answer{p: p, idp: idp, req: req, sp: sp}, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: ACS %q of %q left the metadata", errGone, d.ACS.Location, sp.EntityID)
}

func (p *Provider) failRebuild(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errGone) {
		p.fail(w, r, "saml: rebuild request", err, http.StatusBadRequest, msgUnknownApp)
		return
	}
	p.fail(w, r, "saml: rebuild request", err, http.StatusServiceUnavailable, msgUnavailable)
}

// subject is whom an assertion names, and how.
type subject struct {
	user         storage.User
	org          storage.Organization
	groups       []string
	nameID       string
	nameIDFormat string
	sessionIndex string
	sessionEnd   time.Time
}

// subject works out the NameID and records the session's participation,
// inside Complete's transaction. A NameIDPolicy the provider may not have
// is a refusal (sent to the provider), not an error.
func (p *Provider) subject(ctx context.Context, ar storage.AuthRequest, b session.Browser) (subject, *saml.StatusError, error) {
	sp, err := p.opts.Store.GetServiceProvider(ctx, ar.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return subject{}, nil, fmt.Errorf("%w: provider %q", errGone, ar.ClientID)
	} else if err != nil {
		return subject{}, nil, err
	}
	d, err := readDoorData(ar)
	if err != nil {
		return subject{}, nil, err
	}
	var req saml.AuthnRequest
	if len(d.Request) > 0 {
		if err := xml.Unmarshal(d.Request, &req); err != nil {
			return subject{}, nil, fmt.Errorf("samlidp: kept request of %s: %w", ar.ID, err)
		}
	}
	format, refusal := chooseFormat(sp, req.NameIDPolicy)
	if refusal != nil {
		return subject{}, refusal, nil
	}
	u, err := p.opts.Store.GetUser(ctx, ar.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return subject{}, nil, fmt.Errorf("%w: user %q", errGone, ar.UserID)
	} else if err != nil {
		return subject{}, nil, err
	}
	s := subject{user: u, nameIDFormat: format, sessionIndex: sessionIndex(ar.SessionID)}
	if o, err := p.opts.Store.GetOrganization(ctx, u.OrgID); err == nil {
		s.org = o
	} else if !errors.Is(err, storage.ErrNotFound) {
		return subject{}, nil, err
	}
	if b.Session != nil {
		s.sessionEnd = b.Session.ExpiresAt
		if b.Session.ConnectorID != "" {
			// A federated login's groups, as the upstream last said.
			if l, err := p.opts.Store.GetLink(ctx, b.Session.ConnectorID, b.Session.UpstreamSubject); err == nil && l.UserID == u.ID {
				s.groups = l.Groups
			}
		}
	}
	switch format {
	case string(saml.PersistentNameIDFormat):
		candidate := randomID(24)
		if pol := req.NameIDPolicy; pol != nil && pol.AllowCreate != nil && !*pol.AllowCreate {
			candidate = "" // the request forbids making one (saml-core §3.4.1.1)
		}
		s.nameID, err = p.opts.Store.PersistentNameID(ctx, sp.EntityID, u.ID, candidate)
		if errors.Is(err, storage.ErrNotFound) {
			return subject{}, &saml.StatusError{TopLevel: saml.StatusRequester, SecondLevel: saml.StatusInvalidNameIDPolicy,
				Message: "no identifier exists for this user at this provider, and the request forbids creating one"}, nil
		} else if err != nil {
			return subject{}, nil, fmt.Errorf("samlidp: persistent name id: %w", err)
		}
	case string(saml.TransientNameIDFormat):
		s.nameID = "_" + hex.EncodeToString(randomBytes(20))
	default: // emailAddress, unspecified
		s.nameID = u.Email
	}
	err = p.opts.Store.AddSAMLParticipant(ctx, storage.SAMLParticipant{SessionHash: ar.SessionID, EntityID: sp.EntityID,
		NameID: s.nameID, NameIDFormat: format, SPNameQualifier: spNameQualifier(format, sp.EntityID),
		SessionIndex: s.sessionIndex, CreatedAt: p.now(), ExpiresAt: s.sessionEnd})
	if err != nil {
		return subject{}, nil, fmt.Errorf("samlidp: record participant: %w", err)
	}
	return s, nil, nil
}

// spNameQualifier is what the assertion's NameID carries as its
// SPNameQualifier (only persistent and transient NameIDs have one).
func spNameQualifier(format, entityID string) string {
	if format == string(saml.PersistentNameIDFormat) || format == string(saml.TransientNameIDFormat) {
		return entityID
	}
	return ""
}

// NameID formats by the short names of the settings.
var nameIDFormats = map[string]saml.NameIDFormat{
	"persistent":   saml.PersistentNameIDFormat,
	"emailAddress": saml.EmailAddressNameIDFormat,
	"transient":    saml.TransientNameIDFormat,
	"unspecified":  saml.UnspecifiedNameIDFormat,
}

// chooseFormat picks the NameID format: the one the request's policy asks
// for, when the provider may have it, else the provider's first. A format
// it may not have, or another provider's qualifier, is refused with
// InvalidNameIDPolicy (saml-core §3.4.1.1).
func chooseFormat(sp storage.ServiceProvider, policy *saml.NameIDPolicy) (string, *saml.StatusError) {
	allowed := make([]string, 0, 4)
	for _, short := range sp.Settings.NameIDFormats {
		if f, ok := nameIDFormats[short]; ok {
			allowed = append(allowed, string(f))
		}
	}
	if len(allowed) == 0 {
		allowed = []string{string(saml.PersistentNameIDFormat)}
	}
	refuse := func(msg string) *saml.StatusError {
		return &saml.StatusError{TopLevel: saml.StatusRequester, SecondLevel: saml.StatusInvalidNameIDPolicy, Message: msg}
	}
	if policy == nil {
		return allowed[0], nil
	}
	if q := policy.SPNameQualifier; q != nil && *q != "" && *q != sp.EntityID {
		return "", refuse("name identifiers are issued for the provider's own entity id only")
	}
	if policy.Format == nil {
		return allowed[0], nil
	}
	switch f := *policy.Format; f {
	case "", string(saml.UnspecifiedNameIDFormat), "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted":
		if slices.Contains(allowed, f) {
			return f, nil
		}
		return allowed[0], nil
	default:
		if slices.Contains(allowed, f) {
			return f, nil
		}
		return "", refuse("the name identifier format " + f + " is not enabled for this service provider")
	}
}

// sessionIndex names the Gatehouse session to a provider, for single
// logout, without giving it the session's storage key.
func sessionIndex(sessionHash string) string {
	sum := sha256.Sum256([]byte("gatehouse saml session index\x00" + sessionHash))
	return "gh_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// respond makes the signed assertion and the Response in a.req.ResponseEl.
func (a *answer) respond(ar storage.AuthRequest, s subject) error {
	sess := &saml.Session{
		ID: ar.ID, CreateTime: ar.AuthTime, ExpireTime: s.sessionEnd, Index: s.sessionIndex,
		NameID: s.nameID, NameIDFormat: s.nameIDFormat,
		AuthnContextClassRef: authnClass(ar.AMR, a.req.Request.RequestedAuthnContext),
	}
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(a.req, sess); err != nil {
		return err
	}
	if err := a.req.CheckRequestSubject(); err != nil {
		return err
	}
	a.shape(s)
	if err := a.req.MakeAssertionEl(); err != nil {
		return err
	}
	if a.sp.Settings.SignResponse {
		return a.req.MakeResponse()
	}
	a.unsignedResponse()
	return nil
}

// authnClass is what the login proved: the REFEDS MFA profile after a
// second factor, else a password over TLS. A provider that asked for
// exactly PasswordProtectedTransport gets it after MFA too, which proved
// a password as well.
func authnClass(amr []string, rac *saml.RequestedAuthnContext) string {
	if !slices.Contains(amr, authflow.AMRMFA) {
		return ClassPasswordProtectedTransport
	}
	if rac != nil && (rac.Comparison == "" || rac.Comparison == "exact") {
		refs := rac.ClassRefs()
		if slices.Contains(refs, ClassPasswordProtectedTransport) && !slices.Contains(refs, ClassREFEDSMFA) {
			return ClassPasswordProtectedTransport
		}
	}
	return ClassREFEDSMFA
}

// shape makes the library's assertion ours: our lifetime, the session's
// end, and the provider's attributes instead of the library's defaults.
func (a *answer) shape(s subject) {
	as := a.req.Assertion
	end := a.req.Now.Add(assertionLifetime)
	as.Conditions.NotOnOrAfter = end
	for i := range as.Subject.SubjectConfirmations {
		if d := as.Subject.SubjectConfirmations[i].SubjectConfirmationData; d != nil {
			d.NotOnOrAfter = end
		}
	}
	if !s.sessionEnd.IsZero() {
		for i := range as.AuthnStatements {
			t := s.sessionEnd.UTC()
			as.AuthnStatements[i].SessionNotOnOrAfter = &t
		}
	}
	as.AttributeStatements = nil
	if attrs := attributes(a.sp.Settings.Attributes, s); len(attrs) > 0 {
		as.AttributeStatements = []saml.AttributeStatement{{Attributes: attrs}}
	}
}

// unsignedResponse wraps the signed assertion in a Response that is not
// itself signed (the provider did not ask for sign_response): what
// matters is the assertion's signature, which SPs check.
func (a *answer) unsignedResponse() {
	req := a.req
	resp := &saml.Response{
		Destination: req.ACSEndpoint.Location, ID: newID(), InResponseTo: req.Request.ID,
		IssueInstant: req.Now, Version: "2.0",
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: a.p.EntityID()},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}},
	}
	el := resp.Element()
	el.AddChild(req.AssertionEl)
	req.ResponseEl = el
}

// randomBytes reads the library's random source, so that a test that pins
// it pins every id the door makes.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(saml.RandReader, b); err != nil {
		// crypto/rand does not fail; a pinned test source is long enough.
		_, _ = rand.Read(b)
	}
	return b
}

func randomID(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func newID() string { return "id-" + hex.EncodeToString(randomBytes(20)) }
