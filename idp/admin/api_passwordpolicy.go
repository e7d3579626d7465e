package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// The password policy of an organization over the API:
//
//	GET  orgs/{name}/password-policy
//	POST orgs/{name}/password-policy {"min_length": 12, "max_age": "90d", "min_age": null, "breach_check": false}
//
// Both answer PasswordPolicyView. In the POST body a setting left out stays
// as it is, null returns it to the server default, and a value sets it
// for the organization: ages are strings ("90d", "36h"; "0" turns the
// rule off), min_length a number, breach_check a boolean.

// policySettingsJSON is one policy as JSON: every setting in "effective",
// only the organization's own in "overrides".
type policySettingsJSON struct {
	MinLength   *int    `json:"min_length,omitempty"`
	MaxAge      *string `json:"max_age,omitempty"`
	MinAge      *string `json:"min_age,omitempty"`
	BreachCheck *bool   `json:"breach_check,omitempty"`
}

// PasswordPolicyView is an organization's password policy as the API and
// `orgs show --json` show it.
type PasswordPolicyView struct {
	Org       string             `json:"org"`
	Effective policySettingsJSON `json:"effective"`
	Overrides policySettingsJSON `json:"overrides"`
}

// ViewPasswordPolicy is i as PasswordPolicyView.
func ViewPasswordPolicy(i PasswordPolicyInfo) PasswordPolicyView {
	age := func(d time.Duration) *string { return ptr(password.FormatAge(d)) }
	e := i.Effective
	r := PasswordPolicyView{Org: i.Org.Name, Effective: policySettingsJSON{
		MinLength: ptr(e.MinLength), MaxAge: age(e.MaxAge), MinAge: age(e.MinAge), BreachCheck: ptr(e.BreachCheck)}}
	o := i.Overrides
	if o.MinLength > 0 {
		r.Overrides.MinLength = ptr(o.MinLength)
	}
	if o.MaxAge != nil {
		r.Overrides.MaxAge = age(*o.MaxAge)
	}
	if o.MinAge != nil {
		r.Overrides.MinAge = age(*o.MinAge)
	}
	r.Overrides.BreachCheck = o.BreachCheck
	return r
}

// optional is a POST body field that tells absent (set false) from null
// (set, null) from a value: encoding/json calls UnmarshalJSON for null on
// a non-pointer field.
type optional[T any] struct {
	set, null bool
	v         T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

type policyRequest struct {
	MinLength   optional[int]    `json:"min_length"`
	MaxAge      optional[string] `json:"max_age"`
	MinAge      optional[string] `json:"min_age"`
	BreachCheck optional[bool]   `json:"breach_check"`
}

func (req policyRequest) change() (PasswordPolicyChange, error) {
	var ch PasswordPolicyChange
	inherit := func(name string, o interface{ isNull() bool }) {
		if o.isNull() {
			ch.Inherit = append(ch.Inherit, name)
		}
	}
	inherit(SettingMinLength, req.MinLength)
	inherit(SettingMaxAge, req.MaxAge)
	inherit(SettingMinAge, req.MinAge)
	inherit(SettingBreachCheck, req.BreachCheck)
	if req.MinLength.given() {
		ch.MinLength = ptr(req.MinLength.v)
	}
	if req.BreachCheck.given() {
		ch.BreachCheck = ptr(req.BreachCheck.v)
	}
	for _, a := range []struct {
		name string
		in   optional[string]
		out  **time.Duration
	}{{SettingMaxAge, req.MaxAge, &ch.MaxAge}, {SettingMinAge, req.MinAge, &ch.MinAge}} {
		if !a.in.given() {
			continue
		}
		d, err := password.ParseAge(a.in.v)
		if err != nil {
			return ch, badRequest("%s: %s", a.name, err.Error())
		}
		*a.out = &d
	}
	return ch, nil
}

func (o optional[T]) isNull() bool { return o.set && o.null }
func (o optional[T]) given() bool  { return o.set && !o.null }

func (a *API) getPasswordPolicy(w http.ResponseWriter, r *http.Request, _ Principal) error {
	info, err := a.Service.GetPasswordPolicy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewPasswordPolicy(info))
	return nil
}

func (a *API) setPasswordPolicy(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req policyRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	ch, err := req.change()
	if err != nil {
		return err
	}
	info, err := a.Service.SetPasswordPolicy(r.Context(), actorOf(p), r.PathValue("name"), ch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewPasswordPolicy(info))
	return nil
}
