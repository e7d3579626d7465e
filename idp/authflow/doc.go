// Package authflow owns the login state machine and every decision in it.
// Every login, whatever front door started it (OIDC now; SAML, the console
// next) and whatever back door proved it (a password now; second factors
// and upstream connectors next), is one storage.AuthRequest that moves
// login → (new_password) → mfa → done → issued. The flow alone decides the next step, from
// the stored row, and each transition is one conditional write that checks
// the step it leaves, so no URL parameter, Back button, front door or
// federation path can skip a step. It is the one place where the second
// factor is enforced.
//
// Its contracts (docs/ARCHITECTURE.md has the state diagram):
//   - Front doors (Door, registered by protocol) start requests with Begin,
//     describe their relying parties (Party: name, MFA requirement) and
//     issue their response only after Complete, the one done → issued
//     transition, which binds the request to the browser session that
//     finished it and audits the login.
//   - Back doors (Method, registered by name) verify what the browser
//     submitted for one step and report whom they proved and how (Proof,
//     with AMR values); the flow then decides: may the user sign in, is a
//     second factor required, is the login done. Upstream connectors
//     report through the same Proof (its Upstream field is the federation
//     issue's hook).
//   - A second-factor method may say whether a user can use it (Usable,
//     such as idp/mfa/totplogin: a confirmed authenticator app). At mfa
//     the flow offers the first one the user can use (NoMethod when none
//     is), and a user who can use one is asked for a second factor at
//     every login, whatever the organization and relying party require.
//   - Guesses at secrets (methods that are Guarded) are counted by Lockout
//     (idp/lockout) before the method checks them: a locked account gets
//     the answer and the cost of a wrong secret, its secret unchecked; a
//     throttled network gets ErrThrottled. What the check said settles the
//     count (guard.go).
//   - A password that has expired under its organization's policy
//     (Expiry) sends the login to new_password, whose back door
//     (passwordlogin.Renewal) sets a new one; then the login goes on as it
//     would have. Reaching done never skips it.
//   - Pages call Next (what to show now) and Submit (a form for a method)
//     and render the Outcome; they never look at the step.
//   - Starting the browser session is part of the transition to done: the
//     flow creates the session row and hands the page the cookie to set.
//
// It must not render pages, set cookies or speak a protocol: ui renders,
// idp/session owns the cookie, the doors (idp/oidcop, later idp/samlidp)
// own their protocols. No other package writes an auth request's step.
// Errors that reach a user are the generic sentinels below; the detail
// goes to the audit log.
package authflow
