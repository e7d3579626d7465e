// Package console owns the admin console's pages at /admin: server-
// rendered HTML (templates embedded here, the CSS from ui's static files)
// that works without JavaScript, and the handlers that show them.
//
// Signing in to the console is a login through idp/authflow like any
// other, by the console's own front door (Door, protocol "console"): a
// page without a session begins one, asking for a second factor
// (acr_values MFA) when the console requires it, and the flow decides
// every step. The console then requires the admin or an org-admin role,
// and for every change (a POST) a sign-in within the last ten minutes,
// else it begins a fresh login (prompt=login). Organizations, applications, keys and roles are an
// admin's (adminOnly: 403 for an organization admin); users, connectors
// and the audit log are shown and changed within the caller's Reach.
//
// Every action is a call of idp/admin with the caller's Reach, so who may
// act on whom, and every rule of the action, is idp/admin's: the handlers
// parse forms, call, and render. They must not touch storage, decide a
// login step, or hold a business rule. Every POST carries a CSRF token
// (idp/csrf) checked with its Origin before the handler runs, and every
// page sends frame-ancestors 'none' (ui.CSP) and no-store.
package console
