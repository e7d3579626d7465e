// Package pwned asks the Have I Been Pwned "Pwned Passwords" range API
// whether a password appeared in a breach, with k-anonymity: only the
// first five hex characters of the password's SHA-1 leave the machine,
// the service answers every suffix it knows under that prefix, and the
// comparison happens here. Padding is requested (Add-Padding: true) so the
// size of the answer does not tell an observer the prefix either.
//
// It owns that one HTTP exchange. It must not log, decide what a breach or
// an outage means (password.Checker does: it fails open), or put the
// password, its hash or the prefix in an error message.
package pwned
