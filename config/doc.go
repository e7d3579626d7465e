// Package config owns Gatehouse's configuration: its shape (the Config
// types and their yaml tags), its defaults (Default, DevDefault), how it is
// loaded (Load: YAML file, then GATEHOUSE_* environment variables, then
// *_file secrets) and how it is checked (Validate: every problem at once).
//
// Adding a setting is adding a struct field with a yaml tag, its default in
// Default, and rows in the rules table in validate.go. Environment variable
// names, *_file secret handling and redaction are derived from the struct
// by reflection, so they need no further code:
//
//   - every scalar field (string, bool, integer, time.Duration, []string)
//     gets GATEHOUSE_<YAML_PATH> (see EnvNames);
//   - a Secret field tagged `secret:"x_file"` is paired with its string
//     sibling x_file, whose named file is read by Load;
//   - Secret values redact themselves in fmt, slog, JSON and YAML output.
//
// It must not do I/O besides reading the config file and the files named
// by *_file settings: it does not create the data directory, generate the
// dev master key, open databases or listen. It must not import idp/*,
// federation/* or ui: dependencies point from config outwards, never back.
// The exceptions are two leaves that import only idp/storage and the
// standard library (and golang.org/x): idp/clients owns the client rules
// that Validate applies to the clients section, and idp/password the
// bounds of the password policy, which would otherwise be written twice.
package config
