package clients

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

const (
	maxURILen = 2048
	maxURIs   = 100
)

// ValidateRedirectURI checks one redirect_uri or post_logout_redirect_uri
// for registration. It accepts:
//
//   - https URLs with a host;
//   - http URLs whose host is localhost, 127.0.0.1 or [::1] (RFC 8252
//     section 7.3: native apps listening on loopback, any port);
//   - private-use schemes containing a dot, e.g. com.example.app:/cb (RFC
//     8252 section 7.1), which a reverse domain name makes unlikely to
//     collide with another app's.
//
// It rejects relative URIs, fragments (RFC 6749 section 3.1.2), wildcards
// (matching is exact, so a "*" is either a mistake or a hope for pattern
// matching we do not do), user info (https://good@evil confuses people
// reading the URI), and schemes that run code or read local files.
// The URI is stored exactly as given; the authorization endpoint compares
// strings, with no normalisation, so nothing here needs to canonicalise.
func ValidateRedirectURI(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	if len(raw) > maxURILen {
		return fmt.Errorf("is longer than %d characters", maxURILen)
	}
	shown := redactUserinfo(raw) // never echo a password pasted into a URI
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q contains a space or control character", shown)
		}
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%q must not contain a fragment (#)", shown)
	}
	if strings.Contains(raw, `\`) {
		// Browsers read a backslash as a slash in http(s) URLs, so the
		// URI they follow would not be the one registered.
		return fmt.Errorf("%q must not contain a backslash", shown)
	}
	if strings.Contains(raw, "*") {
		return fmt.Errorf("%q must not contain a wildcard (*): redirect URIs are matched exactly", shown)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a valid URI", shown)
	}
	if u.Scheme == "" {
		return fmt.Errorf("%q must be an absolute URI with a scheme", shown)
	}
	if u.User != nil {
		return fmt.Errorf("%q must not contain user info (user@host)", shown)
	}
	switch u.Scheme {
	case "javascript", "data", "file", "vbscript":
		return fmt.Errorf("%q: the %s: scheme is not allowed", shown, u.Scheme)
	}
	if u.Opaque != "" {
		return fmt.Errorf("%q is not a hierarchical URI (expected scheme:/path or scheme://host/path)", shown)
	}
	switch {
	case u.Scheme == "https":
		if u.Host == "" || u.Hostname() == "" {
			return fmt.Errorf("%q must have a host", shown)
		}
	case u.Scheme == "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q: http is allowed only for localhost, 127.0.0.1 or [::1]; use https", shown)
		}
	case strings.Contains(u.Scheme, "."):
		// Private-use scheme for a native app.
	default:
		return fmt.Errorf("%q: scheme %q is not allowed (use https, http on loopback, or a private-use scheme with a dot such as com.example.app)", shown, u.Scheme)
	}
	return nil
}

// redactUserinfo hides the user info of a URI for error messages. It
// works on the raw text, so it also covers URIs that do not parse.
func redactUserinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, `/?#\`)
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return raw
	}
	return raw[:len(raw)-len(rest)] + "xxxxx" + rest[at:]
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// uriProblems checks a client's list of redirect (or post-logout redirect)
// URIs, reporting each problem on field.
func uriProblems(field string, uris []string) []error {
	if len(uris) > maxURIs {
		return []error{fieldErr(field, "at most %d URIs are allowed", maxURIs)}
	}
	var errs []error
	for _, u := range uris {
		if err := ValidateRedirectURI(u); err != nil {
			errs = append(errs, &FieldError{Field: field, Err: err})
		}
	}
	return errs
}
