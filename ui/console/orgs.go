package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The organizations section: the list with "Create", and an
// organization's page with its details, MFA policy and password policy.
// Every page and form of it is an admin's: an organization admin gets
// 403, as the admin API answers them for the same rules.

// Paths of the organizations section.
const (
	PathOrgs        = "/admin/orgs"
	pathOrg         = "/admin/orgs/{name}"
	pathOrgDetails  = "/admin/orgs/{name}/details"
	pathOrgMFA      = "/admin/orgs/{name}/mfa"
	pathOrgPassword = "/admin/orgs/{name}/password"
	pathOrgBranding = "/admin/orgs/{name}/branding"
)

// OrgURL is the page of the organization named name.
func OrgURL(name string) string { return PathOrgs + "/" + url.PathEscape(name) }

// Lockout is the server's lockout setting (config lockout:), which the
// organization pages show: organizations do not override it.
type Lockout struct {
	MaxFailures int
	Duration    time.Duration
}

// For is how long a lock lasts, as people say it.
func (l Lockout) For() string { return spell(l.Duration) }

// adminOnly answers 403 unless c is an admin.
func (h *Handlers) adminOnly(w http.ResponseWriter, r *http.Request, c caller) bool {
	if c.admin {
		return true
	}
	h.Logger.WarnContext(r.Context(), "console: admin-only page refused", "user_id", c.user.ID, "path", r.URL.Path)
	h.fail(w, r, http.StatusForbidden, msgForbidden, nil)
	return false
}

type orgRow struct {
	Org    storage.Organization
	URL    string
	Policy string
}

type orgsData struct {
	Rows      []orgRow
	CSRFToken string
	CreateURL string
	Error     string
	Name      string
	Display   string
	Domains   string
}

func (h *Handlers) orgs(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathOrgs, false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	h.orgsPage(w, r, c, http.StatusOK, orgsData{})
}

func (h *Handlers) orgsPage(w http.ResponseWriter, r *http.Request, c caller, status int, d orgsData) {
	orgs, err := h.Admin.ListOrgs(r.Context())
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	for _, o := range orgs {
		d.Rows = append(d.Rows, orgRow{Org: o, URL: OrgURL(o.Name), Policy: admin.DescribeMFAPolicy(o.MFA)})
	}
	d.CSRFToken, d.CreateURL = h.CSRF.Token(w, r, bindForms), PathOrgs
	h.render(w, r, status, pageOrgs, "Organizations", &c, d)
}

// domainList reads a form's domains: one per line, or separated by commas
// or spaces.
func domainList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (h *Handlers) orgCreate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathOrgs, true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	f := r.PostForm
	in := admin.CreateOrgInput{Name: f.Get("name"), DisplayName: f.Get("display_name"), Domains: domainList(f.Get("domains"))}
	o, err := h.Admin.CreateOrg(r.Context(), c.actor(), in)
	if msg, ok := inputMessage(err); ok {
		h.orgsPage(w, r, c, http.StatusUnprocessableEntity, orgsData{Error: msg, Name: in.Name, Display: in.DisplayName, Domains: f.Get("domains")})
		return
	} else if err != nil {
		h.actionError(w, r, err)
		return
	}
	http.Redirect(w, r, OrgURL(o.Name)+"?done=created", http.StatusSeeOther)
}

// inputMessage is the operator's mistake an error of idp/admin reports,
// to show on the form that made it.
func inputMessage(err error) (string, bool) {
	var in *admin.InputError
	if errors.As(err, &in) && !errors.Is(err, storage.ErrNotFound) {
		return capitalise(in.Msg) + ".", true
	}
	return "", false
}

// methodBox is a method's checkbox on the MFA policy form.
type methodBox struct {
	Name, Label string
	Checked     bool
}

// policyField is one password policy setting on its form.
type policyField struct {
	Name, Label, Help, Value, Default string
}

type orgData struct {
	Org         storage.Organization
	Notice      string
	CSRFToken   string
	DetailsURL  string
	MFAURL      string
	PasswordURL string
	BrandingURL string
	Logo        string
	Accent      string
	// ErrorIn is which form Error is about.
	ErrorIn, Error   string
	Display, Domains string
	MFA              admin.MFAPolicyInput
	Methods          []methodBox
	Policy           string
	Password         []policyField
	BreachCheck      string
	BreachDefault    string
	Lockout          Lockout
}

var orgNotices = map[string]string{
	"created":  "The organization is created. Set its MFA policy below.",
	"details":  "The details are saved.",
	"mfa":      "The MFA policy is saved; it applies from each user's next sign-in.",
	"password": "The password policy is saved.",
	"branding": "The branding is saved: the organization's users see it on the sign-in pages once they are known.",
}

// methodLabels name the second-factor methods on the policy form.
var methodLabels = map[string]string{
	"totp": "Authenticator app (TOTP)", "webauthn": "Security key or passkey (WebAuthn)",
	"sms": "Text message code (SMS)", "email": "Email code",
}

func (h *Handlers) orgPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := h.who(w, r, OrgURL(name)+queryOf(r), false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	d, ok := h.orgData(w, r, name)
	if !ok {
		return
	}
	d.Notice = orgNotices[r.URL.Query().Get("done")]
	h.render(w, r, http.StatusOK, pageOrg, d.Org.DisplayName, &c, d)
}

// orgData is the page of the organization named name as stored.
func (h *Handlers) orgData(w http.ResponseWriter, r *http.Request, name string) (orgData, bool) {
	info, err := h.Admin.GetPasswordPolicy(r.Context(), name)
	if err != nil {
		h.actionError(w, r, err)
		return orgData{}, false
	}
	o := info.Org
	base := OrgURL(o.Name)
	d := orgData{Org: o, CSRFToken: h.CSRF.Token(w, r, bindForms), DetailsURL: base + "/details", MFAURL: base + "/mfa",
		PasswordURL: base + "/password", BrandingURL: base + "/branding", Logo: o.Branding.LogoURL, Accent: o.Branding.Accent, Display: o.DisplayName, Domains: strings.Join(o.Domains, "\n"),
		Policy: admin.DescribeMFAPolicy(o.MFA), Lockout: h.Lockout}
	d.MFA = admin.MFAPolicyInput{Required: o.MFA.Required, Methods: o.MFA.AllowedMethods, AllowSkip: o.MFA.AllowSkip,
		OtherEmail: o.MFA.OtherEmail, SMSSelfEnrol: o.MFA.SMSSelfEnrol}
	d.setMethods(h.Methods)
	help := map[string][2]string{
		admin.SettingMinLength: {"Minimum length", "In characters, 8 to 1024."},
		admin.SettingMaxAge:    {"Maximum age", "Whole days (90d) or hours (36h); 0 turns expiry off. Older passwords are replaced at the next sign-in."},
		admin.SettingMinAge:    {"Minimum age", "Whole days or hours; 0 turns it off. A user's own change within this time of the last one is refused."},
	}
	for _, s := range admin.PolicySettings[:3] {
		d.Password = append(d.Password, policyField{Name: s, Label: help[s][0], Help: help[s][1], Value: info.OverrideText(s),
			Default: h.Admin.DefaultText(s)})
	}
	d.BreachCheck = info.OverrideText(admin.SettingBreachCheck)
	d.BreachDefault = h.Admin.DefaultText(admin.SettingBreachCheck)
	return d, true
}

// setMethods ticks the methods of d.MFA among those the server offers.
func (d *orgData) setMethods(methods []string) {
	d.Methods = nil
	for _, m := range methods {
		label := methodLabels[m]
		if label == "" {
			label = m
		}
		d.Methods = append(d.Methods, methodBox{Name: m, Label: label, Checked: slices.Contains(d.MFA.Methods, m)})
	}
}

// orgFormError shows the organization's page again with the error next to
// the form that made it; edit puts what was typed back in the form.
func (h *Handlers) orgFormError(w http.ResponseWriter, r *http.Request, c caller, name, form string, err error, edit func(*orgData)) {
	msg, ok := inputMessage(err)
	if !ok {
		h.actionError(w, r, err)
		return
	}
	d, ok := h.orgData(w, r, name)
	if !ok {
		return
	}
	d.ErrorIn, d.Error = form, msg
	edit(&d)
	h.render(w, r, http.StatusUnprocessableEntity, pageOrg, d.Org.DisplayName, &c, d)
}

func (h *Handlers) orgDetails(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := h.who(w, r, OrgURL(name), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	f := r.PostForm
	display, domains := f.Get("display_name"), domainList(f.Get("domains"))
	if _, err := h.Admin.UpdateOrg(r.Context(), c.actor(), name, admin.OrgChange{DisplayName: &display, Domains: &domains}); err != nil {
		h.orgFormError(w, r, c, name, "details", err, func(d *orgData) { d.Display, d.Domains = display, f.Get("domains") })
		return
	}
	http.Redirect(w, r, OrgURL(name)+"?done=details", http.StatusSeeOther)
}

// orgMFA saves the MFA policy form. With "Require" unticked the policy is
// off and the rest of the form is not sent on: it describes how MFA works
// while required, and turning it off keeps none of it.
func (h *Handlers) orgMFA(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := h.who(w, r, OrgURL(name), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	f := r.PostForm
	in := admin.MFAPolicyInput{Required: f.Get("required") == "on"}
	if in.Required {
		in.Methods, in.AllowSkip, in.OtherEmail, in.SMSSelfEnrol = f["method"], f.Get("allow_skip") == "on",
			f.Get("other_email") == "on", f.Get("sms_self_enrol") == "on"
	}
	if _, err := h.Admin.SetMFAPolicy(r.Context(), c.actor(), name, in); err != nil {
		h.orgFormError(w, r, c, name, "mfa", err, func(d *orgData) {
			d.MFA = in
			d.setMethods(h.Methods)
		})
		return
	}
	http.Redirect(w, r, OrgURL(name)+"?done=mfa", http.StatusSeeOther)
}

// orgPassword saves the password policy form: an empty field is the
// server default.
func (h *Handlers) orgPassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := h.who(w, r, OrgURL(name), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	values := map[string]string{}
	for _, s := range admin.PolicySettings {
		v := strings.TrimSpace(r.PostForm.Get(s))
		if v == "" {
			v = admin.InheritWord
		}
		values[s] = v
	}
	ch, err := admin.ParsePolicyChange(values)
	if err == nil {
		_, err = h.Admin.SetPasswordPolicy(r.Context(), c.actor(), name, ch)
	}
	if err != nil {
		h.orgFormError(w, r, c, name, "password", err, func(d *orgData) {
			for i := range d.Password {
				d.Password[i].Value = r.PostForm.Get(d.Password[i].Name)
			}
			d.BreachCheck = r.PostForm.Get(admin.SettingBreachCheck)
		})
		return
	}
	http.Redirect(w, r, OrgURL(name)+"?done=password", http.StatusSeeOther)
}

// spell is a duration as people say it: "10 minutes", "1 hour", "90 seconds".
func spell(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	case d >= time.Minute && d%time.Minute == 0:
		n, unit = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// orgBranding saves the branding form; empty fields are Gatehouse's own
// look.
func (h *Handlers) orgBranding(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c, ok := h.who(w, r, OrgURL(name), true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	b := storage.Branding{LogoURL: r.PostForm.Get("logo_url"), Accent: r.PostForm.Get("accent")}
	if _, err := h.Admin.UpdateOrg(r.Context(), c.actor(), name, admin.OrgChange{Branding: &b}); err != nil {
		h.orgFormError(w, r, c, name, "branding", err, func(d *orgData) { d.Logo, d.Accent = b.LogoURL, b.Accent })
		return
	}
	http.Redirect(w, r, OrgURL(name)+"?done=branding", http.StatusSeeOther)
}
