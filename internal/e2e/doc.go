// Package e2e holds end-to-end tests: a whole Gatehouse instance on a real
// loopback listener, driven over HTTP by real relying-party libraries
// (coreos/go-oidc with golang.org/x/oauth2, and zitadel/oidc's rp), a
// cookie-jar "browser" that fills in the login form, and a real headless
// Chromium driven with chromedp.
//
// It has no code of its own outside tests and must not be imported.
package e2e
