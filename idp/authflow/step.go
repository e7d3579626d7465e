package authflow

import (
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Step is where a login is. The set is closed: the values below are the
// only ones (the type has no exported constructor), a stored string that
// is none of them reads as an error, and only this package writes a
// request's step.
type Step struct{ name string }

// The steps, in order. A request is created at StepLogin and ends at
// StepIssued; expiry ends it anywhere.
var (
	// StepLogin: identify and prove a first factor (a password, a live
	// browser session, later an upstream identity).
	StepLogin = Step{"login"}
	// StepNewPassword: the password proved the user but has expired
	// under the organization's policy; a new one is needed before the
	// login goes on.
	StepNewPassword = Step{"new_password"}
	// StepUpstream: the browser went to an upstream identity provider
	// (home-realm discovery); the login waits for its callback, which
	// only this browser may bring, once.
	StepUpstream = Step{"upstream"}
	// StepLink: an upstream identity matched a local account by email
	// but may not be linked on its word alone; the person proves the
	// local account (its password, then its second factor) and the link
	// is made when the login is done.
	StepLink = Step{"link"}
	// StepMFA: the user is known; a second factor is required and not
	// yet given.
	StepMFA = Step{"mfa"}
	// StepEnrol: a second factor is required and the user has none that
	// counts: they choose a method (when several are allowed) and enrol
	// it, or skip where the policy lets them.
	StepEnrol = Step{"enrol"}
	// StepNotice: the second factor is done, and the user acknowledges a
	// page first (a factor enrolled, with recovery codes; a recovery code
	// used) with Finish.
	StepNotice = Step{"notice"}
	// StepDone: proved, with a browser session; the front door may issue
	// its response, once, through Complete.
	StepDone = Step{"done"}
	// StepIssued: the door issued its response; nothing follows.
	StepIssued = Step{"issued"}
)

var steps = []Step{StepLogin, StepNewPassword, StepUpstream, StepLink, StepMFA, StepEnrol, StepNotice, StepDone, StepIssued}

func (s Step) String() string { return s.name }

// ParseStep reads a stored step.
func ParseStep(v string) (Step, error) {
	for _, s := range steps {
		if s.name == v {
			return s, nil
		}
	}
	return Step{}, fmt.Errorf("authflow: unknown step %q", v)
}

// StepOf is the step of r; the zero Step when the stored value is none of
// the steps (such a row matches no transition).
func StepOf(r storage.AuthRequest) Step {
	s, _ := ParseStep(r.Step)
	return s
}

// Issued reports whether the door has issued r's response: the token
// endpoint accepts a code only for an issued request.
func Issued(r storage.AuthRequest) bool { return StepOf(r) == StepIssued }
