// Package ui owns the server-rendered pages: the HTML templates and the
// static files they use, embedded in the binary and parsed once by New, so
// a missing or broken page stops start-up instead of failing a user.
//
// Each page has one typed render function (RenderLogin, RenderError,
// RenderLogoutConfirm, RenderLoggedOut) taking a plain data struct; the
// caller supplies everything the page shows, including the CSRF token
// (idp/csrf) and the one generic error message. Pages work without
// JavaScript and carry no inline script or style, so they run under the
// default CSP; each render sets that CSP itself (with form-action widened
// only to the origins the caller names), Referrer-Policy: same-origin and
// Cache-Control: no-store. StaticHandler serves the CSS and icon with a
// content hash in the URL and an ETag.
//
// It must not decide anything: no storage, sessions, authentication or
// protocol logic, and no messages that tell an unknown account from a
// wrong password. Handlers in the login flow call it; it calls nothing.
// Later pages (MFA, enrolment, reset, invite, profile, admin console) are
// added here the same way.
package ui
