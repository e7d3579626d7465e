package federation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Identity is what an upstream proved about the person who signed in there.
type Identity struct {
	// Subject is the upstream's stable id for the person (OIDC sub, SAML
	// NameID): with the connector, the key of a link.
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	// Groups are the upstream's groups, as it sent them (the connector's
	// prefix not yet applied).
	Groups []string
	// AMR and ACR are what the upstream said it did (OIDC amr/acr, SAML
	// AuthnContextClassRef as ACR), empty when it said nothing.
	AMR []string
	ACR string
}

// Start is how a browser goes to the upstream for one login.
type Start struct {
	// URL is where the browser goes: a redirect, or the target of Form.
	URL string
	// Form, when not nil, is posted to URL by an auto-submitting page
	// (SAML's HTTP-POST binding); nil means redirect to URL.
	Form map[string]string
	// State is what Finish needs back (a PKCE verifier and nonce, a SAML
	// request id), kept with the login by idp/authflow until the
	// callback: opaque to everyone else.
	State []byte
}

// Connector is one live upstream identity provider.
type Connector interface {
	// Begin starts a login there. relay is what the upstream must send
	// back unchanged (OIDC state, SAML RelayState): the caller binds it
	// to the login and checks it at the callback.
	Begin(ctx context.Context, relay string) (Start, error)
	// Finish checks the upstream's answer (the callback's query, the
	// ACS form) against the State its Begin returned and returns the
	// identity it proves. A refusal (the upstream said no, a signature,
	// audience, nonce or time check failed, a replay) is a *Refusal;
	// any other error is an outage.
	Finish(ctx context.Context, state []byte, in url.Values) (Identity, error)
	// Check fetches the upstream's discovery document or metadata and
	// reports what is wrong with it, in plain words; none is healthy.
	// An unreachable upstream is a Problem, not an error.
	Check(ctx context.Context) []Problem
}

// Metadata is a connector that publishes metadata of its own at
// URLs.Metadata: a SAML connector's service-provider metadata, handed to
// the IT team for their IdP.
type Metadata interface {
	Metadata(ctx context.Context) ([]byte, error)
}

// Problem is one thing wrong with a connector's upstream.
type Problem struct {
	// Code is stable for tests and automation: "unreachable",
	// "issuer_mismatch", "no_signing_certificate", "certificate_expiring",
	// "certificate_expired", "redirect_uri_refused", "invalid_metadata".
	Code string
	// Message says it for an administrator.
	Message string
}

func (p Problem) String() string { return p.Message }

// Refusal is an upstream answer that proves nothing. The user is told only
// that the company sign-in did not complete; Reason goes to the audit log.
type Refusal struct {
	Reason string // "upstream_error", "bad_signature", "nonce", "replay", ...
	Err    error
}

func (e *Refusal) Error() string {
	if e.Err != nil {
		return "federation: upstream answer refused: " + e.Reason + ": " + e.Err.Error()
	}
	return "federation: upstream answer refused: " + e.Reason
}

func (e *Refusal) Unwrap() error { return e.Err }

// Refuse is a *Refusal with reason and cause.
func Refuse(reason string, err error) error { return &Refusal{Reason: reason, Err: err} }

// Env is what connectors need from the server.
type Env struct {
	// Issuer is Gatehouse's issuer URL; a connector's own URLs hang
	// below it (URLs).
	Issuer string
	// HTTP fetches discovery documents, keys, metadata and tokens. Its
	// timeout bounds every call.
	HTTP *http.Client
	// Open unseals a connector's SecretSealed (the master key).
	Open func(sealed []byte) ([]byte, error)
	// Assertions is the shared replay cache (SAML).
	Assertions storage.Assertions
	Now        func() time.Time
	// Dev allows http upstreams on loopback (http://127.0.0.1:…,
	// http://localhost:…), so that a local upstream can be tried.
	Dev    bool
	Logger *slog.Logger
}

// Opener builds the live connector of one type (federation/oidc,
// federation/saml) from its stored row.
type Opener func(ctx context.Context, c storage.Connector, env Env) (Connector, error)

// URLs are a connector's fixed addresses, known from its id before it is
// created, so that an administrator can hand them to the upstream first.
type URLs struct {
	// Callback is the OIDC redirect URI.
	Callback string
	// Metadata is the SAML SP metadata; ACS its assertion consumer
	// service. The SP's entity id is Metadata.
	Metadata string
	ACS      string
}

// URLsFor returns connector id's URLs under issuer.
func URLsFor(issuer, id string) URLs {
	base := strings.TrimRight(issuer, "/") + "/federation/" + url.PathEscape(id)
	return URLs{Callback: base + "/callback", Metadata: base + "/metadata", ACS: base + "/acs"}
}

// ErrInsecureURL: an upstream URL is not https (nor, in dev mode, http on
// loopback).
var ErrInsecureURL = errors.New("federation: upstream URLs must be https (http only on loopback in dev mode)")

// CheckUpstreamURL refuses an upstream URL that is not absolute https, or
// in dev mode http on a loopback host.
func CheckUpstreamURL(raw string, dev bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("federation: %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if dev && Loopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrInsecureURL, raw)
}

// Loopback reports whether host is localhost or a loopback address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CertificateProblems is what is wrong with an upstream's signing
// certificates at now: none at all, expired, or expiring within 30 days.
// Both connector types report them the same way.
func CertificateProblems(certs []*x509.Certificate, now time.Time) []Problem {
	if len(certs) == 0 {
		return []Problem{{Code: "no_signing_certificate", Message: "The upstream publishes no signing certificate."}}
	}
	var out []Problem
	for _, c := range certs {
		name := c.Subject.CommonName
		if name == "" {
			name = c.SerialNumber.String()
		}
		switch {
		case !now.Before(c.NotAfter):
			out = append(out, Problem{Code: "certificate_expired",
				Message: fmt.Sprintf("The signing certificate %q expired on %s.", name, c.NotAfter.UTC().Format(time.DateOnly))})
		case c.NotAfter.Sub(now) < 30*24*time.Hour:
			out = append(out, Problem{Code: "certificate_expiring",
				Message: fmt.Sprintf("The signing certificate %q expires on %s, within 30 days.", name, c.NotAfter.UTC().Format(time.DateOnly))})
		}
	}
	return out
}

// SecretAD is the associated data a connector's sealed secret is sealed
// with: it names the connector, so that a sealed value copied to another
// connector's row opens nowhere.
func SecretAD(connectorID string) []byte {
	return []byte("gatehouse connector secret v1\x00" + connectorID)
}
