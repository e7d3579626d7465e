// Package audit owns the security event log: the event type names and the
// Recorder that stamps an event with time and request metadata, writes it
// through storage and mirrors it to the structured log.
//
// It must not decide policy (whether a failure locks an account) or read
// HTTP requests directly: request metadata arrives through the Meta hook,
// so the package works the same from the CLI, the admin API and the flows.
package audit
