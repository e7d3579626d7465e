// Package clients owns the rules of an OIDC client (relying party): the
// Input that the config file, the CLI and the admin API all fill in, its
// defaults and bounds, its validation (every problem at once, each a
// *FieldError naming the field), the redirect URI rules, the secret rules
// (generation, minimum length, hashing, constant-time verification) and the
// conversion of an Input into the storage.Client that is stored.
//
// A rule lives here once so that a client refused by one front door is
// refused by all of them with the same words: config checks what it can
// before the server starts, idp/admin checks everything before it writes,
// and the token endpoint verifies secrets, all through this package.
//
// It must not import anything but idp/storage and the standard library:
// config imports it, and config must not depend on the rest of idp. It
// must not do I/O, read flags, files or HTTP, or keep state: it decides
// whether a client is valid and what it looks like stored, and its callers
// decide where it comes from and what happens next (storing, auditing,
// refusing a request).
package clients
