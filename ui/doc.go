// Package ui owns the server-rendered pages: the HTML templates and the
// static files they use, embedded in the binary and parsed once by New, so
// a missing or broken page stops start-up instead of failing a user, and
// the handlers that show them.
//
// Each page has one typed render function (RenderLogin, RenderError,
// RenderLogoutConfirm, RenderLoggedOut, RenderAutoPost) taking a plain
// data struct; the caller supplies everything the page shows, including
// the CSRF token (idp/csrf) and the one generic error message. Pages work
// without JavaScript and carry no inline script or style, so they run
// under the default CSP; each render sets that CSP itself (with
// form-action widened only to the origins the caller names),
// Referrer-Policy and Cache-Control: no-store. The auto-post page (OIDC
// form_post, later the SAML POST binding) is the one page with a script,
// a static file, and a Continue button without it. StaticHandler serves
// the CSS, icon and script with a content hash in the URL and an ETag.
//
// Handlers parse forms, ask idp/authflow (Next, Submit) and render the
// Outcome it returns; doors use Error, AutoPost and the logout pages for
// their own endpoints. It must not decide anything: it never reads a
// request's step, starts a session (it sets the cookie of the one the flow
// started), touches storage, or tells an unknown account from a wrong
// password. internal/archtest checks the first two. The password pages
// (forgot, reset and invite links, /me/password) render what
// idp/selfservice answers; the account pages sign in through the flow like
// any application, by their own front door (AccountDoor). The two-step
// sign-in pages (/me/mfa: add, reset and remove factors, new recovery
// codes) render what idp/selfservice answers too, and every change on
// them needs a sign-in of the last five minutes. Later pages
// (MFA, enrolment, profile, admin console) are added the same way: a
// template, a render function, and a case for their method.
package ui
