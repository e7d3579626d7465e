package saml

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/federation"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// maxResponseSize bounds the SAMLResponse field (base64), which carries
// the user's groups and so may be large, but not without end.
const maxResponseSize = 1 << 20

// maxLoginAge is how long after Begin a Response is still taken.
const maxLoginAge = 30 * time.Minute

// Finish checks the Response the IdP posted to the ACS (in: SAMLResponse
// and RelayState) against the login state Begin returned, and returns the
// identity its assertion proves. Refusals are *federation.Refusal; a
// replay cache that cannot answer is an outage (a plain error).
func (c *Connector) Finish(ctx context.Context, state []byte, in url.Values) (federation.Identity, error) {
	var st loginState
	if err := json.Unmarshal(state, &st); err != nil || st.RequestID == "" || st.Relay == "" {
		return federation.Identity{}, errors.New("saml: login state is not one Begin made")
	}
	if err := checkRelay(st.Relay, in["RelayState"]); err != nil {
		return federation.Identity{}, err
	}
	raw, err := decodeResponse(in["SAMLResponse"])
	if err != nil {
		return federation.Identity{}, err
	}
	if err := screen(raw); err != nil {
		return federation.Identity{}, err
	}
	now := c.env.Now()
	if now.Sub(st.At) > maxLoginAge {
		return federation.Identity{}, federation.Refuse("expired", fmt.Errorf("login began at %s", st.At.UTC().Format(time.RFC3339)))
	}
	idp, err := c.idp(ctx, now)
	if err != nil {
		return federation.Identity{}, err
	}
	sp := c.serviceProvider(idp, now)
	cache := &replayCache{ctx: ctx, store: c.env.Assertions, connector: c.id, now: now}
	sp.ReplayCache = cache
	// Every check but the replay cache is crewjam's: signature (of the
	// Response or of its assertion, read from what the signature covers),
	// Destination, InResponseTo (only the request of this login), Issuer,
	// Status, IssueInstant, Conditions, Recipient, Audience, and the
	// bearer confirmation's times. It consumes the assertion id last.
	assertion, err := sp.ParseXMLResponse(raw, []string{st.RequestID}, c.acs)
	if cache.err != nil {
		if errors.Is(cache.err, storage.ErrAlreadyUsed) {
			return federation.Identity{}, federation.Refuse("replay", cache.err)
		}
		return federation.Identity{}, fmt.Errorf("saml: replay cache: %w", cache.err)
	}
	if err != nil {
		return federation.Identity{}, refusal(err)
	}
	return c.identity(assertion)
}

// checkRelay refuses a RelayState that is not the login's, or not one.
func checkRelay(want string, got []string) error {
	if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(want)) != 1 {
		return federation.Refuse("relay_state", errors.New("RelayState is not the login's"))
	}
	return nil
}

// decodeResponse decodes the one SAMLResponse field.
func decodeResponse(fields []string) ([]byte, error) {
	switch {
	case len(fields) != 1:
		return nil, federation.Refuse("malformed", fmt.Errorf("%d SAMLResponse fields", len(fields)))
	case len(fields[0]) > maxResponseSize:
		return nil, federation.Refuse("malformed", fmt.Errorf("SAMLResponse over %d bytes", maxResponseSize))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(fields[0]))
	if err != nil {
		return nil, federation.Refuse("malformed", fmt.Errorf("SAMLResponse: %w", err))
	}
	return raw, nil
}

// replayCache is crewjam's AssertionReplayCache over env.Assertions for
// one call; err keeps what the store said, so that Finish can tell a
// replay from an outage.
type replayCache struct {
	ctx       context.Context
	store     storage.Assertions
	connector string
	now       time.Time
	err       error
}

// Consume records id until expiresAt: the last moment crewjam would take
// the assertion (its NotOnOrAfter times and IssueInstant plus
// MaxIssueDelay, with the allowed clock skew).
func (r *replayCache) Consume(id string, expiresAt time.Time) error {
	r.err = r.store.UseAssertionID(r.ctx, r.connector, id, expiresAt, r.now)
	if errors.Is(r.err, storage.ErrAlreadyUsed) {
		return fmt.Errorf("%w: %w", crewjam.ErrAssertionReplayed, r.err)
	}
	return r.err
}

// refusal is the *federation.Refusal for an error of crewjam's
// ParseXMLResponse, with its private detail.
func refusal(err error) error {
	detail := err
	var invalid *crewjam.InvalidResponseError
	if errors.As(err, &invalid) && invalid.PrivateErr != nil {
		detail = invalid.PrivateErr
	}
	var status crewjam.ErrBadStatus
	reason := "malformed"
	switch {
	case errors.As(detail, &status):
		reason = "upstream_error"
	case errors.Is(detail, crewjam.ErrInvalidSignature), errors.Is(detail, crewjam.ErrUntrustedCertificate),
		errors.Is(detail, crewjam.ErrCertificateNotValidNow):
		reason = "signature"
	case errors.Is(detail, crewjam.ErrAudienceMismatch):
		reason = "audience"
	case errors.Is(detail, crewjam.ErrDestinationMismatch):
		reason = "destination"
	case errors.Is(detail, crewjam.ErrRequestIDMismatch):
		reason = "in_response_to"
	case errors.Is(detail, crewjam.ErrExpired), errors.Is(detail, crewjam.ErrNotYetValid):
		reason = "expired"
	case errors.Is(detail, crewjam.ErrIssuerMismatch):
		reason = "issuer"
	case strings.Contains(detail.Error(), "signature element not present"):
		// crewjam's unexported errSignatureElementNotPresent: an
		// unsigned assertion that was encrypted (screen finds the
		// others before crewjam sees them).
		reason = "unsigned"
	}
	return federation.Refuse(reason, detail)
}
