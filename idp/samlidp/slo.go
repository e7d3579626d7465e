package samlidp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
)

// Single logout, SP-initiated (saml-profiles-2.0-os §4.4), front channel.
//
// The library validates the LogoutRequest (signature by the provider's
// key, Destination, IssueInstant); the rest is ours, because the library's
// propagation keeps its state in a cookie of its own (not __Host-, and
// SameSite=None) and answers with inline-script pages our CSP refuses.
// Here the state is a storage row (saml_logouts) named by a random id that
// travels as RelayState: the browser goes from provider to provider, each
// answers at /saml/slo, and /saml/slo/next sends it on. A provider that
// fails or does not answer is recorded and skipped; the last page lists
// what happened and takes the browser back to the provider that asked,
// with a signed LogoutResponse.

// logoutTTL bounds a logout in progress: a few hops through the browser.
const logoutTTL = 10 * time.Minute

// logoutState is a logout in progress (saml_logouts.state).
type logoutState struct {
	Initiator initiator `json:"initiator"`
	// Started: the Gatehouse session was ended and Pending filled.
	Started bool           `json:"started"`
	Pending []participant  `json:"pending,omitempty"`
	Current *sentRequest   `json:"current,omitempty"`
	Results []logoutResult `json:"results,omitempty"`
	// Status is the LogoutResponse's top-level status when the request
	// could not be honoured (the session is someone else's); "" : success.
	Status string `json:"status,omitempty"`
	// A logout that started at Gatehouse (BeginLogout) has no initiator:
	// Session is the hash of the session it ends (only that browser may
	// carry it on), Return where the browser goes at the end ("" : the
	// signed-out page) and ClientName who asked, for that page.
	Session    string `json:"session,omitempty"`
	Return     string `json:"return,omitempty"`
	ClientName string `json:"client_name,omitempty"`
}

// idpInitiated: the logout started at Gatehouse, not at a provider.
func (st logoutState) idpInitiated() bool { return st.Initiator.EntityID == "" }

type initiator struct {
	EntityID       string   `json:"entity_id"`
	RequestID      string   `json:"request_id"`
	RelayState     string   `json:"relay_state,omitempty"`
	Binding        string   `json:"binding"`
	Location       string   `json:"location"`
	NameID         string   `json:"name_id"`
	SessionIndexes []string `json:"session_indexes,omitempty"`
}

type participant struct {
	EntityID        string `json:"entity_id"`
	NameID          string `json:"name_id"`
	NameIDFormat    string `json:"name_id_format,omitempty"`
	SPNameQualifier string `json:"sp_name_qualifier,omitempty"`
	SessionIndex    string `json:"session_index,omitempty"`
}

type sentRequest struct {
	participant
	RequestID string    `json:"request_id"`
	SentAt    time.Time `json:"sent_at"`
}

type logoutResult struct {
	EntityID string `json:"entity_id"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
}

// serveSLO takes what arrives at the SLO endpoint: a LogoutRequest that
// starts a logout, or a LogoutResponse of a provider we sent one to.
func (p *Provider) serveSLO(w http.ResponseWriter, r *http.Request) {
	if !p.limit(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, "slo: form", err, http.StatusBadRequest, msgBadLogout)
		return
	}
	if r.Form.Get("SAMLResponse") != "" {
		p.logoutAnswered(w, r)
		return
	}
	p.logoutRequested(w, r)
}

// logoutRequested validates a provider's LogoutRequest and stores it; the
// browser continues by GET, which carries our SameSite=Lax cookie even
// when the request came by cross-site POST.
func (p *Provider) logoutRequested(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	idp, err := p.identityProvider(ctx)
	if err != nil {
		p.fail(w, r, "slo: keys", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	req, err := saml.NewIdpLogoutRequest(idp, r)
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		p.fail(w, r, "slo: refused logout request", err, http.StatusBadRequest, msgBadLogout)
		return
	}
	if len(req.RelayState) > MaxRelayState {
		p.fail(w, r, "slo: relay state too long", fmt.Errorf("%d bytes", len(req.RelayState)), http.StatusBadRequest, msgBadLogout)
		return
	}
	in := initiator{EntityID: req.ServiceProviderMetadata.EntityID, RequestID: req.Request.ID, RelayState: req.RelayState,
		Binding: req.SLOEndpoint.Binding, Location: req.SLOEndpoint.ResponseLocation}
	if in.Location == "" {
		in.Location = req.SLOEndpoint.Location
	}
	if req.Request.NameID != nil {
		in.NameID = req.Request.NameID.Value
	}
	for _, si := range req.Request.AllSessionIndexes() {
		in.SessionIndexes = append(in.SessionIndexes, si.Value)
	}
	now := p.now()
	expires := req.Request.IssueInstant.Add(saml.MaxIssueDelay + saml.MaxClockSkew)
	switch err := p.opts.Store.UseSAMLRequestID(ctx, in.EntityID, in.RequestID, expires, now); {
	case errors.Is(err, storage.ErrAlreadyUsed):
		p.fail(w, r, "slo: replayed logout request", fmt.Errorf("request %q of %q", in.RequestID, in.EntityID), http.StatusBadRequest, msgBadLogout)
		return
	case errors.Is(err, storage.ErrConflict):
		p.fail(w, r, "slo: provider gone", err, http.StatusBadRequest, msgBadLogout)
		return
	case err != nil:
		p.fail(w, r, "slo: record request id", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	raw, err := json.Marshal(logoutState{Initiator: in})
	if err != nil {
		p.fail(w, r, "slo: state", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	id := randomID(24)
	if err := p.opts.Store.CreateSAMLLogout(ctx, storage.SAMLLogout{ID: id, State: raw, CreatedAt: now, ExpiresAt: now.Add(logoutTTL)}); err != nil {
		p.fail(w, r, "slo: store logout", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	http.Redirect(w, r, p.nextBase+"?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// serveSLONext takes the logout one step: end the session (first time),
// then send the next provider its LogoutRequest, or finish.
func (p *Provider) serveSLONext(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	l, err := p.opts.Store.GetSAMLLogout(ctx, id, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		p.fail(w, r, "slo: unknown logout", err, http.StatusBadRequest, msgBadLogout)
		return
	} else if err != nil {
		p.fail(w, r, "slo: load logout", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	var st logoutState
	if err := json.Unmarshal(l.State, &st); err != nil {
		p.fail(w, r, "slo: state", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	if !st.Started {
		if !p.endSession(w, r, &st) {
			return
		}
		st.Started = true
	}
	if st.Current != nil {
		// The provider sent the browser back without answering (or the
		// user came back by hand): it did not confirm.
		st.Results = append(st.Results, logoutResult{EntityID: st.Current.EntityID, Problem: "did not confirm the sign-out"})
		st.Current = nil
	}
	for len(st.Pending) > 0 {
		next := st.Pending[0]
		st.Pending = st.Pending[1:]
		send, sent, err := p.logoutRequestTo(ctx, next, id)
		if err != nil {
			p.opts.Logger.InfoContext(ctx, "slo: cannot send logout request", "sp", next.EntityID, "err", err)
			st.Results = append(st.Results, logoutResult{EntityID: next.EntityID, Problem: problemOf(err)})
			continue
		}
		st.Current = sent
		if !p.saveLogout(w, r, id, st) {
			return
		}
		send(w, r)
		return
	}
	p.finishLogout(w, r, id, st)
}

// endSession ends the browser's Gatehouse session when it is the one the
// initiating provider names, and queues the session's other providers.
// A browser with another person's session keeps it: the provider gets
// UnknownPrincipal.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request, st *logoutState) bool {
	ctx := r.Context()
	b, err := p.opts.Sessions.Browser(r)
	if err != nil {
		p.fail(w, r, "slo: session", err, http.StatusServiceUnavailable, msgUnavailable)
		return false
	}
	if b.Session == nil {
		return true // already signed out here
	}
	parts, err := p.opts.Store.ListSAMLParticipants(ctx, b.Session.Hash, p.now())
	if err != nil {
		p.fail(w, r, "slo: participants", err, http.StatusServiceUnavailable, msgUnavailable)
		return false
	}
	in := st.Initiator
	switch {
	case st.idpInitiated() && b.Session.Hash != st.Session:
		// Another browser opened the link: its session is not the one
		// being signed out, and the logout stays as it was for the
		// browser whose it is.
		p.fail(w, r, "slo: logout link opened by another session", errors.New("session mismatch"), http.StatusBadRequest, msgBadLogout)
		return false
	case !st.idpInitiated() && !namesSession(parts, in):
		p.opts.Logger.InfoContext(ctx, "slo: logout request does not name this browser's session", "sp", in.EntityID)
		st.Status = saml.StatusRequester
		return true
	}
	for _, sp := range parts {
		if sp.EntityID != in.EntityID {
			st.Pending = append(st.Pending, participant{EntityID: sp.EntityID, NameID: sp.NameID, NameIDFormat: sp.NameIDFormat,
				SPNameQualifier: sp.SPNameQualifier, SessionIndex: sp.SessionIndex})
		}
	}
	if !p.opts.Pages.EndSession(w, r) {
		return false
	}
	if err := p.opts.Store.DeleteSAMLParticipants(ctx, b.Session.Hash); err != nil {
		// The session is gone; its records expire with it.
		p.opts.Logger.WarnContext(ctx, "slo: delete participants", "err", err)
	}
	return true
}

// namesSession: the initiator's LogoutRequest names its own record among
// the session's participants (NameID and, when given, SessionIndex).
func namesSession(parts []storage.SAMLParticipant, in initiator) bool {
	i := slices.IndexFunc(parts, func(sp storage.SAMLParticipant) bool { return sp.EntityID == in.EntityID })
	return i >= 0 && parts[i].NameID == in.NameID &&
		(len(in.SessionIndexes) == 0 || slices.Contains(in.SessionIndexes, parts[i].SessionIndex))
}

func (p *Provider) saveLogout(w http.ResponseWriter, r *http.Request, id string, st logoutState) bool {
	raw, err := json.Marshal(st)
	if err == nil {
		_, err = p.opts.Store.UpdateSAMLLogout(r.Context(), id, p.now(), func(l storage.SAMLLogout) (storage.SAMLLogout, error) {
			l.State = raw
			return l, nil
		})
	}
	if err != nil {
		p.fail(w, r, "slo: save logout", err, http.StatusServiceUnavailable, msgUnavailable)
		return false
	}
	return true
}

// errNoSLO: the provider's metadata has no logout endpoint we can use.
var errNoSLO = errors.New("samlidp: no SingleLogoutService endpoint")

func problemOf(err error) string {
	if errors.Is(err, errNoSLO) {
		return "does not support single sign-out"
	}
	if errors.Is(err, errGone) {
		return "is no longer connected"
	}
	return "could not be reached"
}

// logoutRequestTo makes the signed LogoutRequest for one participant: by
// HTTP-Redirect when the provider has that endpoint, else HTTP-POST.
func (p *Provider) logoutRequestTo(ctx context.Context, to participant, relayState string) (func(http.ResponseWriter, *http.Request), *sentRequest, error) {
	sp, err := p.opts.Store.GetServiceProvider(ctx, to.EntityID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %q", errGone, to.EntityID)
	} else if err != nil {
		return nil, nil, err
	}
	ed, err := descriptor(sp)
	if err != nil {
		return nil, nil, err
	}
	ep, ok := sloEndpoint(ed)
	if !ok {
		return nil, nil, errNoSLO
	}
	idp, err := p.identityProvider(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := p.now()
	notAfter := now.Add(saml.MaxIssueDelay)
	lr := &saml.LogoutRequest{ID: newID(), Version: "2.0", IssueInstant: now, NotOnOrAfter: &notAfter, Destination: ep.Location,
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.EntityID()},
		NameID: &saml.NameID{Format: to.NameIDFormat, Value: to.NameID, SPNameQualifier: to.SPNameQualifier}}
	if to.SPNameQualifier != "" {
		lr.NameID.NameQualifier = p.EntityID()
	}
	if to.SessionIndex != "" {
		lr.SessionIndex = &saml.SessionIndex{Value: to.SessionIndex}
	}
	sent := &sentRequest{participant: to, RequestID: lr.ID, SentAt: now}
	if ep.Binding == saml.HTTPRedirectBinding {
		u, err := signedRedirect(idp, ep.Location, "SAMLRequest", lr.Element(), relayState)
		if err != nil {
			return nil, nil, err
		}
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u, http.StatusFound)
		}, sent, nil
	}
	signed, err := signEnveloped(idp, lr.Element())
	if err != nil {
		return nil, nil, err
	}
	fields := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(signed)}, "RelayState": {relayState}}
	return func(w http.ResponseWriter, r *http.Request) { p.opts.Pages.AutoPost(w, r, ep.Location, fields) }, sent, nil
}

// sloEndpoint is the provider's SingleLogoutService for requests:
// HTTP-Redirect first (no page of ours in between), then HTTP-POST.
func sloEndpoint(ed *saml.EntityDescriptor) (saml.Endpoint, bool) {
	for _, binding := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		for _, d := range ed.SPSSODescriptors {
			for _, ep := range d.SingleLogoutServices {
				if ep.Binding == binding && webURL(ep.Location) {
					return ep, true
				}
			}
		}
	}
	return saml.Endpoint{}, false
}

func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// logoutAnswered takes a provider's LogoutResponse to our LogoutRequest:
// its RelayState names the logout. Whatever it says, the logout goes on.
func (p *Provider) logoutAnswered(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.Form.Get("RelayState")
	l, err := p.opts.Store.GetSAMLLogout(ctx, id, p.now())
	if errors.Is(err, storage.ErrNotFound) {
		p.fail(w, r, "slo: response for unknown logout", err, http.StatusBadRequest, msgBadLogout)
		return
	} else if err != nil {
		p.fail(w, r, "slo: load logout", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	var st logoutState
	if err := json.Unmarshal(l.State, &st); err != nil || st.Current == nil {
		p.fail(w, r, "slo: logout response out of turn", err, http.StatusBadRequest, msgBadLogout)
		return
	}
	cur := st.Current
	res := logoutResult{EntityID: cur.EntityID}
	if resp, err := p.verifyLogoutResponse(r, cur); err != nil {
		p.opts.Logger.InfoContext(ctx, "slo: refused logout response", "sp", cur.EntityID, "err", err)
		res.Problem = "answered with a message that could not be verified"
	} else if resp.Status.StatusCode.Value != saml.StatusSuccess {
		p.opts.Logger.InfoContext(ctx, "slo: logout failed at provider", "sp", cur.EntityID, "status", resp.Status.StatusCode.Value)
		res.Problem = "could not sign you out"
	} else {
		res.OK = true
	}
	st.Results = append(st.Results, res)
	st.Current = nil
	if !p.saveLogout(w, r, id, st) {
		return
	}
	http.Redirect(w, r, p.nextBase+"?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// finishLogout answers the provider that asked: straight back when every
// other provider signed out, else through a page that lists what
// happened.
func (p *Provider) finishLogout(w http.ResponseWriter, r *http.Request, id string, st logoutState) {
	ctx := r.Context()
	if err := p.opts.Store.DeleteSAMLLogout(ctx, id); err != nil {
		p.opts.Logger.WarnContext(ctx, "slo: delete logout", "err", err)
	}
	if st.idpInitiated() {
		p.finishIdPLogout(w, r, st)
		return
	}
	idp, err := p.identityProvider(ctx)
	if err != nil {
		p.fail(w, r, "slo: keys", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	in := st.Initiator
	partial := slices.ContainsFunc(st.Results, func(r logoutResult) bool { return !r.OK })
	status := saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}
	switch {
	case st.Status != "":
		status.StatusCode = saml.StatusCode{Value: st.Status, StatusCode: &saml.StatusCode{Value: saml.StatusUnknownPrincipal}}
	case partial:
		status.StatusCode.StatusCode = &saml.StatusCode{Value: saml.StatusPartialLogout}
	}
	resp := &saml.LogoutResponse{ID: newID(), InResponseTo: in.RequestID, Version: "2.0", IssueInstant: p.now(), Destination: in.Location,
		Issuer: &saml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: p.EntityID()}, Status: status}
	d := p.logoutResults(ctx, st)
	d.ReturnName = in.EntityID
	if sp, err := p.opts.Store.GetServiceProvider(ctx, in.EntityID); err == nil {
		d.ReturnName = spName(sp)
	}
	if in.Binding == saml.HTTPRedirectBinding {
		u, err := signedRedirect(idp, in.Location, "SAMLResponse", resp.Element(), in.RelayState)
		if err != nil {
			p.fail(w, r, "slo: sign logout response", err, http.StatusServiceUnavailable, msgUnavailable)
			return
		}
		if !partial {
			http.Redirect(w, r, u, http.StatusFound)
			return
		}
		d.ReturnLink = u
		p.opts.Pages.SingleLogoutDone(w, r, d)
		return
	}
	signed, err := signEnveloped(idp, resp.Element())
	if err != nil {
		p.fail(w, r, "slo: sign logout response", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	fields := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(signed)}}
	if in.RelayState != "" {
		fields.Set("RelayState", in.RelayState)
	}
	if !partial {
		p.opts.Pages.AutoPost(w, r, in.Location, fields)
		return
	}
	d.ReturnAction = in.Location
	for _, k := range []string{"SAMLResponse", "RelayState"} {
		if v := fields.Get(k); v != "" {
			d.ReturnFields = append(d.ReturnFields, ui.Field{Name: k, Value: v})
		}
	}
	p.opts.Pages.SingleLogoutDone(w, r, d)
}

// signEnveloped signs el with the IdP's key (enveloped signature).
func signEnveloped(idp *saml.IdentityProvider, el *etree.Element) ([]byte, error) {
	ctx, err := signingContext(idp)
	if err != nil {
		return nil, err
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		return nil, fmt.Errorf("samlidp: sign: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	return doc.WriteToBytes()
}

// logoutResults are what each provider answered, by name.
func (p *Provider) logoutResults(ctx context.Context, st logoutState) ui.SingleLogoutData {
	var d ui.SingleLogoutData
	for _, res := range st.Results {
		row := ui.LogoutPartyRow{Name: res.EntityID, OK: res.OK, Problem: res.Problem}
		if sp, err := p.opts.Store.GetServiceProvider(ctx, res.EntityID); err == nil {
			row.Name = spName(sp)
		}
		d.Parties = append(d.Parties, row)
	}
	return d
}

// finishIdPLogout ends a logout that started at Gatehouse: on to where
// it was going when every provider signed out, else the page that lists
// what happened, with a link on.
func (p *Provider) finishIdPLogout(w http.ResponseWriter, r *http.Request, st logoutState) {
	partial := slices.ContainsFunc(st.Results, func(r logoutResult) bool { return !r.OK })
	switch {
	case !partial && st.Return != "":
		http.Redirect(w, r, st.Return, http.StatusSeeOther)
	case !partial:
		p.opts.Pages.LoggedOut(w, r, st.ClientName)
	default:
		d := p.logoutResults(r.Context(), st)
		d.ReturnLink, d.ReturnName = st.Return, st.ClientName
		if d.ReturnName == "" {
			d.ReturnName = "the application"
		}
		p.opts.Pages.SingleLogoutDone(w, r, d)
	}
}

// BeginLogout is ui.SingleLogout: a sign-out at Gatehouse whose session
// signed in to SAML applications goes through their single logout
// (front channel, as an SP-initiated one does from /saml/slo/next), then
// to returnTo. A session without SAML applications is left to the caller.
func (p *Provider) BeginLogout(w http.ResponseWriter, r *http.Request, returnTo, clientName string) bool {
	ctx := r.Context()
	b, err := p.opts.Sessions.Browser(r)
	if err != nil {
		p.fail(w, r, "slo: session", err, http.StatusServiceUnavailable, msgUnavailable)
		return true
	}
	if b.Session == nil {
		return false
	}
	parts, err := p.opts.Store.ListSAMLParticipants(ctx, b.Session.Hash, p.now())
	if err != nil {
		p.fail(w, r, "slo: participants", err, http.StatusServiceUnavailable, msgUnavailable)
		return true
	}
	if len(parts) == 0 {
		return false
	}
	raw, err := json.Marshal(logoutState{Session: b.Session.Hash, Return: returnTo, ClientName: clientName})
	if err != nil {
		p.fail(w, r, "slo: state", err, http.StatusServiceUnavailable, msgUnavailable)
		return true
	}
	now := p.now()
	id := randomID(24)
	if err := p.opts.Store.CreateSAMLLogout(ctx, storage.SAMLLogout{ID: id, State: raw, CreatedAt: now, ExpiresAt: now.Add(logoutTTL)}); err != nil {
		p.fail(w, r, "slo: store logout", err, http.StatusServiceUnavailable, msgUnavailable)
		return true
	}
	http.Redirect(w, r, p.nextBase+"?id="+url.QueryEscape(id), http.StatusSeeOther)
	return true
}
