// Package ui will own the server-rendered pages (html/template, embedded):
// login, MFA, enrolment, reset, invite, the profile page and the admin
// console. It renders and parses forms and calls idp/authflow, idp/admin
// and idp/mfa; it owns no business rules.
//
// Nothing is implemented yet (the OIDC login issue adds the first pages).
package ui
