package samlidp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Bounds on what an unauthenticated browser may send. A real AuthnRequest
// is a few kilobytes; the library also caps an inflated Redirect message
// at 1 MiB, and these stop a large one before it is decoded at all. The
// query's bound sits below the server's header limit (64 KiB, answered
// 431 by net/http), so that a query between the two gets our 400.
const (
	maxPostBody = 128 << 10
	maxQuery    = 32 << 10
	// MaxRelayState is the SAML bindings' bound on RelayState
	// (saml-bindings-2.0-os §3.4.3, §3.5.3).
	MaxRelayState = 80
)

// limit refuses an oversized message with a fast 400 before anything is
// parsed, and caps what a POST may make the server read.
func (p *Provider) limit(w http.ResponseWriter, r *http.Request) bool {
	if len(r.URL.RawQuery) > maxQuery || r.ContentLength > maxPostBody {
		p.fail(w, r, "saml: message too large", fmt.Errorf("query %d bytes, body %d bytes", len(r.URL.RawQuery), r.ContentLength),
			http.StatusBadRequest, msgBadRequest)
		return false
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxPostBody)
	}
	return true
}

// serveSSO takes an AuthnRequest (HTTP-Redirect or HTTP-POST). The
// library parses and verifies it (issuer known, signature, Destination,
// IssueInstant, an ACS URL from the metadata); the session provider below
// hands it to the login flow.
func (p *Provider) serveSSO(w http.ResponseWriter, r *http.Request) {
	if !p.limit(w, r) {
		return
	}
	idp, err := p.identityProvider(r.Context())
	if err != nil {
		p.fail(w, r, "sso: keys", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	idp.ServeSSO(w, r)
}

// doorData is what the door keeps on the auth request until it answers.
type doorData struct {
	// Request is the validated AuthnRequest as XML, without its signature
	// (empty for an IdP-initiated sign-on).
	Request    []byte `json:"request,omitempty"`
	RelayState string `json:"relay_state,omitempty"`
	// ACS is the endpoint from the metadata the Response goes to.
	ACS acsEndpoint `json:"acs"`
}

type acsEndpoint struct {
	Binding  string `json:"binding"`
	Location string `json:"location"`
	Index    int    `json:"index"`
}

func readDoorData(r storage.AuthRequest) (doorData, error) {
	var d doorData
	if err := json.Unmarshal(r.DoorData, &d); err != nil {
		return d, fmt.Errorf("samlidp: door data of %s: %w", r.ID, err)
	}
	return d, nil
}

// sessionProvider is the library's hook: it never returns a session. A
// request becomes an auth request of the flow, and the browser goes to
// log in; the flow decides whether the existing session will do.
type sessionProvider struct{ p *Provider }

func (s sessionProvider) GetSession(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) *saml.Session {
	s.p.begin(w, r, req)
	return nil
}

// begin stores the request in the flow and sends the browser to log in.
func (p *Provider) begin(w http.ResponseWriter, r *http.Request, req *saml.IdpAuthnRequest) {
	ctx := r.Context()
	entityID := req.ServiceProviderMetadata.EntityID
	if len(req.RelayState) > MaxRelayState {
		p.fail(w, r, "sso: relay state too long", fmt.Errorf("%d bytes", len(req.RelayState)), http.StatusBadRequest, msgBadRequest)
		return
	}
	ar := storage.AuthRequest{Protocol: Protocol, ClientID: entityID}
	d := doorData{RelayState: req.RelayState,
		ACS: acsEndpoint{Binding: req.ACSEndpoint.Binding, Location: req.ACSEndpoint.Location, Index: req.ACSEndpoint.Index}}
	if req.Request.ID != "" { // SP-initiated
		// A request id is good once, until the library would refuse the
		// request as stale anyway.
		expires := req.Request.IssueInstant.Add(saml.MaxIssueDelay + saml.MaxClockSkew)
		switch err := p.opts.Store.UseSAMLRequestID(ctx, entityID, req.Request.ID, expires, p.now()); {
		case errors.Is(err, storage.ErrAlreadyUsed):
			p.fail(w, r, "sso: replayed request", fmt.Errorf("request %q of %q", req.Request.ID, entityID), http.StatusBadRequest, msgReplayed)
			return
		case errors.Is(err, storage.ErrConflict):
			p.fail(w, r, "sso: provider gone", err, http.StatusBadRequest, msgUnknownApp)
			return
		case err != nil:
			p.fail(w, r, "sso: record request id", err, http.StatusServiceUnavailable, msgUnavailable)
			return
		}
		x, err := requestXML(req.Request)
		if err != nil {
			p.fail(w, r, "sso: keep request", err, http.StatusBadRequest, msgBadRequest)
			return
		}
		d.Request = x
		constrain(&ar, req.Request)
	}
	var err error
	if ar.DoorData, err = json.Marshal(d); err != nil {
		p.fail(w, r, "sso: door data", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	ar, err = p.opts.Flow.Begin(ctx, ar)
	if err != nil {
		p.fail(w, r, "sso: begin", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	http.Redirect(w, r, p.opts.LoginURL(ar.ID), http.StatusSeeOther)
}

// constrain turns the request's demands into the flow's: ForceAuthn is a
// fresh login, IsPassive a login that shows no page, a requested MFA
// context a second factor, and an emailAddress Subject the login hint.
func constrain(ar *storage.AuthRequest, req saml.AuthnRequest) {
	if req.ForceAuthn != nil && *req.ForceAuthn {
		ar.Prompt = append(ar.Prompt, "login")
	}
	if req.IsPassive != nil && *req.IsPassive {
		ar.Prompt = append(ar.Prompt, "none")
	}
	if wantsMFA(req.RequestedAuthnContext) {
		ar.ACRValues = []string{authflow.ACRMFA}
	}
	if s := req.Subject; s != nil && s.NameID != nil && s.NameID.Format == string(saml.EmailAddressNameIDFormat) {
		ar.LoginHint = s.NameID.Value
	}
}

// wantsMFA reports whether a RequestedAuthnContext can only be met by a
// second factor: it names the REFEDS MFA profile (and nothing weaker
// that "exact" or "minimum" would accept instead), or asks for "better"
// than a password.
func wantsMFA(rac *saml.RequestedAuthnContext) bool {
	if rac == nil {
		return false
	}
	refs := rac.ClassRefs()
	strengths := classStrengths()
	mfa := strengths[ClassREFEDSMFA]
	switch rac.Comparison {
	case "better":
		return slices.ContainsFunc(refs, func(c string) bool { s, ok := strengths[c]; return ok && s+1 >= mfa })
	case "maximum":
		return false
	default: // exact, minimum: met by any one of them, so MFA only if all need it
		return len(refs) > 0 && !slices.ContainsFunc(refs, func(c string) bool { s, ok := strengths[c]; return !ok || s < mfa })
	}
}

// requestXML keeps a validated request for the Response: its signature
// was checked and is not needed again.
func requestXML(req saml.AuthnRequest) ([]byte, error) {
	req.Signature = nil
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	return doc.WriteToBytes()
}
