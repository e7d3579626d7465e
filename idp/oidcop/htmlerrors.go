package oidcop

import (
	"bytes"
	"net/http"
)

// htmlErrors wraps the library's /authorize handler. The library answers a
// request it will not redirect (unknown client, bad redirect URI) with a
// JSON error meant for programs; a person followed that link, so they get
// Gatehouse's error page instead, and the library's detail goes to the log.
// Successful responses and redirects pass through untouched.
func (p *Provider) htmlErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &captureErrors{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.status == 0 {
			return
		}
		p.opts.Logger.InfoContext(r.Context(), "authorize request refused", "status", cw.status, "detail", cw.body.String())
		msg := "This sign-in link is not valid. Please go back to the application and try again."
		if cw.status >= 500 {
			msg = "Sign-in is temporarily unavailable. Please try again in a moment."
		}
		if cw.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfter)
		}
		p.opts.Pages.Error(w, r, cw.status, msg)
	})
}

// captureErrors holds back error responses (status ≥ 400) so that they can
// be replaced; anything else is written through.
type captureErrors struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	passed bool
}

func (c *captureErrors) WriteHeader(status int) {
	if status >= 400 && !c.passed {
		c.status = status
		return
	}
	c.passed = true
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureErrors) Write(b []byte) (int, error) {
	if c.status != 0 {
		if c.body.Len() < 4096 {
			c.body.Write(b)
		}
		return len(b), nil
	}
	c.passed = true
	return c.ResponseWriter.Write(b)
}
