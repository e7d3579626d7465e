package emailcode

import (
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/otpcode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// hashDomain binds a hash to this method and its state format: a state of
// another method's matches nothing here. The method's per-login state is
// an otpcode.State.
const hashDomain = "gatehouse emailcode v1"

// words are the page's wording of a code's fate.
var words = otpcode.Words{Retype: ErrRetype, Wrong: ErrWrongCode, Expired: ErrExpired, Burnt: ErrBurnt,
	EnrolExpired: ErrEnrolExpired}

func (m *Method) code() otpcode.Code {
	return otpcode.Code{Key: m.Key, Domain: hashDomain, Words: words}
}

// check matches in[FieldCode] against the code this login was sent (in
// t.State), for one of factors. It returns that factor, or a *Failure
// whose State counts the miss (and, at MaxMisses, burns the code).
func (m *Method) check(t authflow.Turn, factors []storage.Factor, in authflow.Input) (storage.Factor, error) {
	return m.code().Verify(t, factors, in[FieldCode], m.now())
}
