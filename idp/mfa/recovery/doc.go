// Package recovery is the recovery-code second factor ("recovery"): ten
// one-time codes a user keeps on paper or in a password manager for the
// day their usual second factor is gone. It is an authflow.SecondFactor,
// an authflow.Fallback (a code satisfies the mfa step but does not make a
// user enrolled) and the flow's authflow.RecoveryCodes (it issues a set).
//
// It owns making codes (random, easy to type, grouped for reading),
// storing them hashed, one factor row per code, through
// storage.ReplaceRecoveryCodes (a new set voids the old), checking a typed
// code against the user's codes that count, and spending it atomically
// through storage.ConsumeRecoveryCode, so that of two concurrent uses of
// one code exactly one wins. It also writes the text of the "download"
// file.
//
// It must not decide when codes are issued or shown (the flow issues them
// at a first enrolment and shows them once; self-service regenerates
// them), which factors count (the flow hands it those, Turn.Factors),
// whether a second factor is required, or what a login that used a code
// does next. It must not store or log a code in clear, nor count wrong
// codes toward the lockout (the flow counts every *authflow.Failure).
package recovery
