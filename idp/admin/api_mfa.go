package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The MFA policy of an organization and MFA resets over the API:
//
//	GET  orgs/{name}/mfa
//	PUT  orgs/{name}/mfa {"required": true, "methods": ["totp", "email"], "allow_skip": true, "other_email": false}
//	POST users/reset-mfa {"emails": [...]} | {"user_ids": [...]} | {"org": "acme", "all": true}, optional "method"
//
// Both policy calls answer MFAPolicyView. A PUT replaces the whole policy,
// so "required" must be given: a body that forgot it must not turn MFA
// off. A reset answers 200 with one result per user, failures included.

// MFAPolicyView is an organization's MFA policy as the API and `orgs show
// --json` show it.
type MFAPolicyView struct {
	Org        string   `json:"org"`
	Required   bool     `json:"required"`
	Methods    []string `json:"methods"`
	AllowSkip  bool     `json:"allow_skip"`
	OtherEmail bool     `json:"other_email"`
	// SMSSelfEnrol: users without a number on their profile may enter
	// one for text-message codes.
	SMSSelfEnrol bool `json:"sms_self_enrol"`
	// Since starts the policy's generation: factors confirmed and skips
	// chosen before it do not count. Absent: from the start.
	Since *time.Time `json:"since,omitempty"`
	// DisabledAt is when MFA was last turned off; absent: never.
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
}

// ViewMFAPolicy is o's MFA policy as MFAPolicyView.
func ViewMFAPolicy(o storage.Organization) MFAPolicyView {
	p := o.MFA
	return MFAPolicyView{Org: o.Name, Required: p.Required, Methods: nonNil(p.AllowedMethods), AllowSkip: p.AllowSkip,
		OtherEmail: p.OtherEmail, SMSSelfEnrol: p.SMSSelfEnrol, Since: optTime(p.Since), DisabledAt: optTime(p.DisabledAt)}
}

// optTime is t in UTC, or nil for the zero time (absent from JSON).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *API) getMFAPolicy(w http.ResponseWriter, r *http.Request, _ Principal) error {
	o, err := a.Service.GetMFAPolicy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewMFAPolicy(o))
	return nil
}

func (a *API) setMFAPolicy(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req struct {
		Required     *bool    `json:"required"`
		Methods      []string `json:"methods"`
		AllowSkip    bool     `json:"allow_skip"`
		OtherEmail   bool     `json:"other_email"`
		SMSSelfEnrol bool     `json:"sms_self_enrol"`
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	if req.Required == nil {
		return badRequest(`"required" (true or false) is required: a PUT replaces the whole policy`)
	}
	o, err := a.Service.SetMFAPolicy(r.Context(), actorOf(p), r.PathValue("name"), MFAPolicyInput{Required: *req.Required,
		Methods: req.Methods, AllowSkip: req.AllowSkip, OtherEmail: req.OtherEmail, SMSSelfEnrol: req.SMSSelfEnrol})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ViewMFAPolicy(o))
	return nil
}

// resetResultView is one user's result of a reset. The counts are set
// (0 included) only for a user that was reset.
type resetResultView struct {
	Email          string `json:"email,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	OK             bool   `json:"ok"`
	FactorsRemoved *int   `json:"factors_removed,omitempty"`
	SessionsEnded  *int   `json:"sessions_ended,omitempty"`
	TokensRevoked  *int   `json:"tokens_revoked,omitempty"`
	NoticeSent     *bool  `json:"notice_sent,omitempty"`
	Error          string `json:"error,omitempty"`
}

// viewReset is res for the answer. A failure's text is the InputError's
// message (written for operators); any other failure is logged and
// answered generically, since it may name hosts or tables.
func (a *API) viewReset(r *http.Request, res MFAReset) resetResultView {
	if res.Err == nil {
		return resetResultView{Email: res.User.Email, UserID: res.User.ID, OK: true, FactorsRemoved: ptr(res.FactorsRemoved),
			SessionsEnded: ptr(res.SessionsEnded), TokensRevoked: ptr(res.TokensRevoked), NoticeSent: ptr(res.Notified)}
	}
	v := resetResultView{Email: res.Ref.Email, UserID: res.Ref.ID}
	var ie *InputError
	switch {
	case errors.As(res.Err, &ie):
		v.Error = ie.Msg
	case errors.Is(res.Err, storage.ErrUnavailable):
		a.logger().ErrorContext(r.Context(), "admin API: MFA reset: storage unavailable", "user", res.Ref.String(), "err", res.Err)
		v.Error = "the service is temporarily unavailable"
	default:
		a.logger().ErrorContext(r.Context(), "admin API: MFA reset failed", "user", res.Ref.String(), "err", res.Err)
		v.Error = "internal error"
	}
	return v
}

type resetMFARequest struct {
	Emails  []string `json:"emails"`
	UserIDs []string `json:"user_ids"`
	Org     string   `json:"org"`
	All     bool     `json:"all"`
	Method  string   `json:"method"`
}

// targets are the users req names one by one, or an error when it names
// none, or names them in more than one way.
func (req resetMFARequest) targets() ([]UserRef, error) {
	ways := 0
	for _, given := range []bool{len(req.Emails) > 0, len(req.UserIDs) > 0, req.Org != "" || req.All} {
		if given {
			ways++
		}
	}
	switch {
	case ways != 1:
		return nil, badRequest(`name the users one way: "emails", "user_ids", or "org" with "all": true`)
	case req.Org != "" && !req.All:
		return nil, badRequest(`"org" resets every user of the organization: add "all": true`)
	case req.All && req.Org == "":
		return nil, badRequest(`"all" needs "org": the organization whose users to reset`)
	}
	refs := make([]UserRef, 0, len(req.Emails)+len(req.UserIDs))
	for _, e := range req.Emails {
		refs = append(refs, UserRef{Email: e})
	}
	for _, id := range req.UserIDs {
		refs = append(refs, UserRef{ID: id})
	}
	return refs, nil
}

func (a *API) resetMFA(w http.ResponseWriter, r *http.Request, p Principal) error {
	var req resetMFARequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	refs, err := req.targets()
	if err != nil {
		return err
	}
	out := &resetStream{w: w}
	if req.All {
		err := a.Service.ResetOrgMFA(r.Context(), actorOf(p), p.reach(), req.Org, req.Method, func(page []MFAReset) error {
			return out.write(a.viewResets(r, page))
		})
		if err != nil && !out.started {
			return err
		}
		if err != nil {
			a.logger().ErrorContext(r.Context(), "admin API: MFA reset of an organization stopped", "org", req.Org, "err", err)
		}
		out.end(err)
		return nil
	}
	results, err := a.Service.ResetMFA(r.Context(), actorOf(p), p.reach(), refs, req.Method)
	if err != nil {
		return err
	}
	if err := out.write(a.viewResets(r, results)); err != nil {
		return err
	}
	out.end(nil)
	return nil
}

func (a *API) viewResets(r *http.Request, rs []MFAReset) []resetResultView {
	out := make([]resetResultView, len(rs))
	for i, res := range rs {
		out[i] = a.viewReset(r, res)
	}
	return out
}

// resetStream writes {"results": [...], "reset": N, "failed": M} a page of
// results at a time, so that the answer for an organization of any size
// is never held whole in memory. Once the first page is out the status is
// 200; a failure after it ends the answer with "error".
type resetStream struct {
	w http.ResponseWriter
	// started: the status and the opening are written.
	started       bool
	reset, failed int
}

func (s *resetStream) start() error {
	if s.started {
		return nil
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
	_, err := s.w.Write([]byte(`{"results":[`))
	return err
}

func (s *resetStream) write(views []resetResultView) error {
	if err := s.start(); err != nil {
		return err
	}
	for _, v := range views {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if s.reset+s.failed > 0 {
			b = append([]byte{','}, b...)
		}
		if _, err := s.w.Write(b); err != nil {
			return err
		}
		if v.OK {
			s.reset++
		} else {
			s.failed++
		}
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// end closes the answer; a non-nil err says the batch stopped early.
func (s *resetStream) end(err error) {
	if s.start() != nil {
		return
	}
	tail := struct {
		Reset  int    `json:"reset"`
		Failed int    `json:"failed"`
		Error  string `json:"error,omitempty"`
	}{Reset: s.reset, Failed: s.failed}
	if err != nil {
		tail.Error = "the reset stopped before it reached every user; the users in results were reset or failed as they say"
	}
	b, _ := json.Marshal(tail)
	// The tail's fields follow the array: `],"reset":…}`.
	_, _ = s.w.Write(append(append([]byte("],"), b[1:]...), '\n'))
}
