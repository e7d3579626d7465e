package otpcode

import (
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Failure reasons in the audit log, alike for every code method.
const (
	ReasonMalformed = "malformed_code"
	ReasonExpired   = "expired_code" // none sent, expired, replaced or burnt
	ReasonWrong     = "wrong_code"
	// ReasonUnknownFactor: the code went to a factor that no longer
	// counts (removed, or refused by a changed policy).
	ReasonUnknownFactor = "unknown_factor"
	// ReasonUsed: the factor already proved a login after this code was
	// sent (a replayed state), or the enrolment was confirmed before.
	ReasonUsed = "used_code"
)

// Words are what a method's page says about its code, in plain words.
type Words struct {
	// Retype: what was typed is not a code.
	Retype error
	// Wrong: another code.
	Wrong error
	// Expired: no code, or one expired, replaced or spent.
	Expired error
	// Burnt: too many wrong codes.
	Burnt error
	// EnrolExpired: a pending factor died before its code came back.
	EnrolExpired error
}

// Notice is what a page showing s at now says about it: nil while its
// code may be typed.
func (w Words) Notice(s State, now time.Time) error {
	switch s.Status(now) {
	case Burnt:
		return w.Burnt
	case Expired:
		return w.Expired
	}
	return nil
}

// Verify matches typed against the code this login was sent (in t.State),
// for one of factors, at now. It returns that factor, or a
// *authflow.Failure in c.Words whose State counts the miss (and, at
// MaxMisses, burns the code).
func (c Code) Verify(t authflow.Turn, factors []storage.Factor, typed string, now time.Time) (storage.Factor, error) {
	f, v, st := c.Check(t.Request.ID, t.State, factors, typed, now)
	fail := func(reason string, show error) *authflow.Failure {
		return &authflow.Failure{User: t.User, Reason: reason, Show: show}
	}
	switch v {
	case Live:
		return f, nil
	case Malformed:
		// Not a guess at the code: it costs no miss (the flow still
		// counts it toward the lockout).
		return storage.Factor{}, fail(ReasonMalformed, c.Words.Retype)
	case NoCode:
		return storage.Factor{}, fail(ReasonExpired, c.Words.Expired)
	case UnknownFactor:
		return storage.Factor{}, fail(ReasonUnknownFactor, c.Words.Expired)
	case Used:
		return storage.Factor{}, fail(ReasonUsed, c.Words.Expired)
	case Expired, Burnt:
		return storage.Factor{}, fail(ReasonExpired, c.Words.Notice(st, now))
	}
	b, err := st.Encode()
	if err != nil {
		return storage.Factor{}, err
	}
	out := fail(ReasonWrong, c.Words.Wrong)
	if st.Burnt {
		out.Show = c.Words.Burnt
	}
	out.State = b
	return storage.Factor{}, out
}
