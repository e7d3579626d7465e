// Package sqlstore is the SQL implementation of storage.Storage shared by the
// SQLite and PostgreSQL backends, so that every query and every atomicity
// rule (consume once, rotate or revoke, update by function) is written once.
//
// A backend adapts its driver to Driver: statements, transactions, the row
// lock clause and the mapping of driver errors onto the storage sentinels.
// All SQL here is the common subset of both dialects, with $1, $2, ...
// placeholders; times are Unix microseconds (0 for the zero time), durations
// nanoseconds, lists and maps JSON text. Empty and nil lists and maps both
// read back as nil.
//
// Every call into the Driver runs under the query timeout (QueryTimeout,
// config storage.query_timeout), derived from the caller's context: a
// statement, a whole transaction with its retries, a ping. A database that
// stops answering, rather than refusing, then fails a call with
// storage.ErrUnavailable wrapping context.DeadlineExceeded instead of
// holding the request; a caller's own cancellation stays context.Canceled.
//
// It must not import a driver, read the clock (every time comes from the
// caller or the rows), or open connections itself.
package sqlstore
