// Package admin owns administrative actions on organizations and users:
// creating, listing and disabling them, their password and MFA policies,
// MFA resets, roles, the first-start bootstrap, and organizations'
// upstream connectors (OIDC, SAML) and users' links to them. Connectors
// are opened only through the federation.Opener the caller injects
// (Federation), so the protocol packages stay out of here. The CLI calls it
// in-process and the admin HTTP API calls the same methods, so a rule
// (email normalisation, password policy, session revocation on disable or
// MFA reset, the audit record) exists once.
//
// Who may act on whom is a Reach: every user for an admin and the CLI,
// the users of some organizations for an organization admin (the role
// storage.OrgAdminRole, "org-admin:<orgID>"). A user out of reach is
// answered exactly as one who does not exist, so that an organization
// admin cannot learn other organizations' addresses.
//
// api.go exposes the same methods as JSON over HTTP for automation and
// says which routes organization admins may call; the rest of the package
// must not know about HTTP, render HTML or parse flags. It returns
// *InputError for anything the operator typed wrong, and wrapped storage
// errors otherwise. It must not decide a login's steps: an MFA reset only
// sets the user's MFAEnrollRequired (and MFAEnrolMethod) for idp/authflow
// to read.
package admin
