// Package authflow owns the login state machine and every decision in it.
// Every login, whatever front door started it (OIDC now; SAML, the console
// next) and whatever back door proved it (a password, second factors;
// upstream connectors next), is one storage.AuthRequest that moves
// login → (new_password) → mfa | enrol → (notice) → done → issued. The
// flow alone decides the next step, from the stored row, and each
// transition is one conditional write that checks
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
//   - Second factors (SecondFactor, registered with RegisterFactor: the
//     methods of idp/mfa) check a code against the factors the flow hands
//     them. Which of a user's factors count (the organization's policy,
//     its generation, the allowed methods: idp/mfa's rules), whether a
//     second factor is required (the organization, the relying party,
//     acr_values, an administrator's reset, or a factor the user turned
//     on) and whether "Skip for now" stands are decided here, from the
//     stored state, at every page (second.go). A user with a factor that
//     counts goes to mfa; one without goes to enrol, where they choose a
//     method (Enroller) or go straight to the only one, confirm a pending
//     factor with its first code, and see the notice step (recovery codes,
//     shown once) before Finish; a fallback (recovery codes) satisfies
//     mfa once and ends on the notice too (secondsteps.go).
//   - Guesses at secrets (methods that are Guarded) are counted by Lockout
//     (idp/lockout) before the method checks them: a locked account gets
//     the answer and the cost of a wrong secret, its secret unchecked; a
//     throttled network gets ErrThrottled. What the check said settles the
//     count (guard.go).
//   - A password that has expired under its organization's policy
//     (Expiry) sends the login to new_password, whose back door
//     (passwordlogin.Renewal) sets a new one; then the login goes on as it
//     would have. Reaching done never skips it.
//   - Pages call Next (what to show now), Submit (a form for a method),
//     Choose, Resend, Skip and Finish, and render the Outcome; they never
//     look at the step.
//   - Starting the browser session is part of the transition to done: the
//     flow creates the session row and hands the page the cookie to set.
//
// It must not render pages, set cookies or speak a protocol: ui renders,
// idp/session owns the cookie, the doors (idp/oidcop, later idp/samlidp)
// own their protocols. No other package writes an auth request's step.
// Errors that reach a user are the generic sentinels below; the detail
// goes to the audit log.
package authflow
