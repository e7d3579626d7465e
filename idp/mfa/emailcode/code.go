package emailcode

import (
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/otpcode"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// hashDomain binds a hash to this method and its state format: a state of
// another method's matches nothing here. The method's per-login state is
// an otpcode.State.
const hashDomain = "gatehouse emailcode v1"

func (m *Method) code() otpcode.Code { return otpcode.Code{Key: m.Key, Domain: hashDomain} }

// notice is what a page showing s at now says about it: nil while its
// code may be typed.
func notice(s otpcode.State, now time.Time) error {
	switch s.Status(now) {
	case otpcode.Burnt:
		return ErrBurnt
	case otpcode.Expired:
		return ErrExpired
	}
	return nil
}

// check matches in[FieldCode] against the code this login was sent (in
// t.State), for one of factors. It returns that factor, or a *Failure
// whose State counts the miss (and, at MaxMisses, burns the code).
func (m *Method) check(t authflow.Turn, factors []storage.Factor, in authflow.Input) (storage.Factor, error) {
	now := m.now()
	f, v, st := m.code().Check(t.Request.ID, t.State, factors, in[FieldCode], now)
	switch v {
	case otpcode.Live:
		return f, nil
	case otpcode.Malformed:
		// Not a guess at the code: it costs no miss (the flow still
		// counts it toward the lockout).
		return storage.Factor{}, failure(t, ReasonMalformed, ErrRetype, nil)
	case otpcode.NoCode:
		return storage.Factor{}, failure(t, ReasonExpired, ErrExpired, nil)
	case otpcode.UnknownFactor:
		return storage.Factor{}, failure(t, ReasonUnknownFactor, ErrExpired, nil)
	case otpcode.Expired, otpcode.Burnt:
		return storage.Factor{}, failure(t, ReasonExpired, notice(st, now), nil)
	case otpcode.Used:
		return storage.Factor{}, failure(t, ReasonUsed, ErrExpired, nil)
	}
	show := ErrWrongCode
	if st.Burnt {
		show = ErrBurnt
	}
	b, err := st.Encode()
	if err != nil {
		return storage.Factor{}, err
	}
	return storage.Factor{}, failure(t, ReasonWrong, show, b)
}
