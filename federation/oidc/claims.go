package oidc

import (
	"context"
	"errors"
	"fmt"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"golang.org/x/oauth2"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// claimNames are the claims an Identity is read from.
type claimNames struct {
	email, emailVerified, name, groups string
}

func claimNamesOf(s federation.OIDCSettings) claimNames {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return claimNames{
		email:         or(s.EmailClaim, "email"),
		emailVerified: or(s.EmailVerifiedClaim, "email_verified"),
		name:          or(s.NameClaim, "name"),
		groups:        or(s.GroupsClaim, "groups"),
	}
}

// field is a set of the Identity's fields that userinfo may supply.
type field uint8

const (
	fieldEmail field = 1 << iota // email with its email_verified
	fieldName
	fieldGroups
	allFields = fieldEmail | fieldName | fieldGroups
)

// fill sets the fields in want that claims has (an empty string or list
// is not having it) and returns those it set. email_verified goes with
// email: it is read from where the email came from, never from elsewhere.
func (n claimNames) fill(claims map[string]any, id *federation.Identity, want field) field {
	var got field
	if email, ok := claims[n.email].(string); ok && email != "" && want&fieldEmail != 0 {
		id.Email, id.EmailVerified = email, isTrue(claims[n.emailVerified])
		got |= fieldEmail
	}
	if name, ok := claims[n.name].(string); ok && name != "" && want&fieldName != 0 {
		id.Name = name
		got |= fieldName
	}
	if groups := list(claims[n.groups]); len(groups) > 0 && want&fieldGroups != 0 {
		id.Groups = groups
		got |= fieldGroups
	}
	return got
}

// isTrue: a JSON true, or the string "true" that some upstreams send.
func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// list is a claim that is a string (one value) or a list of strings
// (other members skipped).
func list(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// identity maps a verified ID token to an Identity. The subject is the
// token's sub, nothing else. Email, name and groups the token lacks come
// from the userinfo endpoint when there is one and it answers for the
// same subject.
func (c *connector) identity(ctx context.Context, claims *idClaims, token *oauth2.Token) (federation.Identity, error) {
	id := federation.Identity{
		Subject: claims.Subject,
		AMR:     []string(claims.AuthenticationMethodsReferences),
		ACR:     claims.AuthenticationContextClassReference,
	}
	missing := allFields &^ c.claims.fill(claims.raw, &id, allFields)
	if missing == 0 || c.userinfo == "" || token.AccessToken == "" {
		return id, nil
	}
	info, err := rp.Userinfo[userinfo](ctx, token.AccessToken, token.Type(), claims.Subject, c.rp)
	switch {
	case err == nil:
		c.claims.fill(info, &id, missing)
	case outage(err):
		return federation.Identity{}, fmt.Errorf("federation/oidc: userinfo: %w", err)
	case errors.Is(err, rp.ErrUserInfoSubNotMatching):
		c.log.WarnContext(ctx, "federation/oidc: userinfo answered for another subject; not used", "connector", c)
	default:
		c.log.WarnContext(ctx, "federation/oidc: userinfo failed; not used", "connector", c, "err", err)
	}
	return id, nil
}

// userinfo is a userinfo response as JSON values.
type userinfo map[string]any

func (u userinfo) GetSubject() string {
	s, _ := u["sub"].(string)
	return s
}
