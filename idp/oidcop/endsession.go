package oidcop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/ui"
)

// EndSession is a verified RP-initiated logout request.
type EndSession struct {
	ClientID string
	// RedirectURI is a registered post_logout_redirect_uri, or "" (then
	// the logout ends on Gatehouse's own page).
	RedirectURI string
	State       string
	// Subject is the user named by a valid id_token_hint ("" without one).
	// Without a hint the logout must be confirmed by the user, because
	// anyone can link to end_session.
	Subject string
}

// ErrBadLogoutRequest covers every refusal; the caller shows a generic page
// and never redirects.
var ErrBadLogoutRequest = errors.New("oidcop: invalid logout request")

// VerifyEndSession checks an end_session request (OpenID RP-Initiated
// Logout 1.0): the id_token_hint must be a token Gatehouse signed (an
// expired one is fine; a tampered one is refused), and the
// post_logout_redirect_uri must be registered for the client, exactly.
func (p *Provider) VerifyEndSession(ctx context.Context, form url.Values) (EndSession, error) {
	if why := checkParams(form, endSessionLimits); why != "" {
		return EndSession{}, fmt.Errorf("%w: %s", ErrBadLogoutRequest, why)
	}
	es := EndSession{ClientID: form.Get("client_id"), State: form.Get("state")}
	if hint := form.Get("id_token_hint"); hint != "" {
		if isAccessTokenJWT(hint) {
			return EndSession{}, fmt.Errorf("%w: id_token_hint is an access token", ErrBadLogoutRequest)
		}
		ctx = op.ContextWithIssuer(ctx, p.opts.Issuer)
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			return EndSession{}, fmt.Errorf("%w: id_token_hint: %v", ErrBadLogoutRequest, err)
		}
		aud := claims.GetAudience()
		if es.ClientID == "" && len(aud) > 0 {
			es.ClientID = aud[0]
		}
		if !slices.Contains(aud, es.ClientID) {
			return EndSession{}, fmt.Errorf("%w: client_id is not the hint's audience", ErrBadLogoutRequest)
		}
		es.Subject = claims.GetSubject()
	}
	uri := form.Get("post_logout_redirect_uri")
	if uri == "" {
		return es, nil
	}
	if es.ClientID == "" {
		return EndSession{}, fmt.Errorf("%w: post_logout_redirect_uri without client_id or id_token_hint", ErrBadLogoutRequest)
	}
	c, err := p.opts.Store.GetClient(ctx, es.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return EndSession{}, fmt.Errorf("%w: unknown client", ErrBadLogoutRequest)
	} else if err != nil {
		return EndSession{}, err
	}
	if !slices.Contains(c.PostLogoutRedirectURIs, uri) {
		return EndSession{}, fmt.Errorf("%w: post_logout_redirect_uri is not registered", ErrBadLogoutRequest)
	}
	es.RedirectURI = uri
	return es, nil
}

// LogoutRedirect is where to send the browser after the logout: the
// registered URI with the client's state.
func (es EndSession) LogoutRedirect() string {
	if es.RedirectURI == "" {
		return ""
	}
	u, err := url.Parse(es.RedirectURI)
	if err != nil {
		return ""
	}
	if es.State != "" {
		q := u.Query()
		q.Set("state", es.State)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

const msgBadLogout = "This sign-out link is not valid."

// endSession is RP-initiated logout. With a valid id_token_hint for the
// signed-in user it logs out at once; otherwise it asks, because any page
// can link here.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.fail(w, r, "end_session: parse", err, http.StatusBadRequest, msgBadLogout)
		return
	}
	es, err := p.VerifyEndSession(ctx, r.Form)
	if errors.Is(err, ErrBadLogoutRequest) {
		p.fail(w, r, "end_session: refused", err, http.StatusBadRequest, msgBadLogout)
		return
	} else if err != nil {
		p.fail(w, r, "end_session: verify", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	name := p.clientName(ctx, es.ClientID)
	if r.Method == http.MethodPost && r.PostForm.Get("confirm") == "1" {
		if !p.opts.Pages.VerifyLogoutForm(w, r) {
			return
		}
	} else {
		b, err := p.opts.Sessions.Browser(r)
		if err != nil {
			p.fail(w, r, "end_session: session", err, http.StatusServiceUnavailable, msgUnavailable)
			return
		}
		if es.Subject == "" || (b.Session != nil && b.Session.UserID != es.Subject) {
			var fields []ui.Field
			for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
				if v := r.Form.Get(k); v != "" {
					fields = append(fields, ui.Field{Name: k, Value: v})
				}
			}
			p.opts.Pages.ConfirmLogout(w, r, ui.LogoutConfirm{PostURL: PathEndSession, Fields: fields,
				ClientName: name, RedirectURL: es.LogoutRedirect()})
			return
		}
	}
	p.opts.Pages.SignOut(w, r, es.LogoutRedirect(), name)
}

// clientName is what the logout pages call a client.
func (p *Provider) clientName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	if party, err := p.Party(ctx, id); err == nil {
		return party.Name
	}
	return id
}
