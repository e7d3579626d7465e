package ui

import (
	"bytes"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
)

//go:embed templates/*.html static/*
var embedded embed.FS

// Page names; each is templates/<name>.html defining "title" and "content"
// for templates/layout.html.
const (
	pageLogin         = "login"
	pageError         = "error"
	pageLogoutConfirm = "logout_confirm"
	pageLoggedOut     = "logged_out"
	pageAutoPost      = "autopost"
	pageHome          = "home"
	pageForgot        = "forgot"
	pageSetPassword   = "set_password"
	pageNotice        = "notice"
	pageMFACode       = "mfa_code"
	pageTOTPEnrol     = "totp_enrol"
	pageMeMFA         = "me_mfa"
	pageMFAChoose     = "mfa_choose"
	pageMFANotice     = "mfa_notice"
	pageWebAuthn      = "webauthn"
	pageSSO           = "sso"
	pageUpstream      = "upstream"
	pageLink          = "link"
	pageMeLinks       = "me_links"
	pageMeApps        = "me_apps"
	pageSingleLogout  = "single_logout"
	pageMeSessions    = "me_sessions"
	pageMeProfile     = "me_profile"
)

var requiredPages = []string{pageLogin, pageError, pageLogoutConfirm, pageLoggedOut, pageAutoPost, pageHome,
	pageForgot, pageSetPassword, pageNotice, pageMFACode, pageTOTPEnrol, pageMeMFA, pageMFAChoose, pageMFANotice, pageWebAuthn,
	pageSSO, pageUpstream, pageLink, pageMeLinks, pageMeApps, pageSingleLogout, pageMeSessions, pageMeProfile}

// baseCSP is httpserver.DefaultCSP without its form-action directive,
// which the renderer writes per page (a test keeps the two in step).
const baseCSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configures a Renderer.
type Options struct {
	// ProductName is the name pages show (default "Gatehouse").
	ProductName string
	// StaticPrefix is where StaticHandler is mounted (default "/static/").
	StaticPrefix string
	// Files replaces the embedded templates/ and static/ trees (tests,
	// theming). It must hold every page New requires.
	Files fs.FS
}

// Renderer renders the pages. It is safe for concurrent use.
type Renderer struct {
	product string
	prefix  string
	pages   map[string]*template.Template
	assets  map[string]asset
	cssURL  string
	iconURL string
	postURL string // autopost.js
	keyURL  string // webauthn.js
}

// New parses every page and loads the static files. It fails if a page or
// asset is missing or a template does not execute on empty data.
func New(opts Options) (*Renderer, error) {
	r := &Renderer{
		product: opts.ProductName,
		prefix:  opts.StaticPrefix,
		pages:   make(map[string]*template.Template),
	}
	if r.product == "" {
		r.product = "Gatehouse"
	}
	if r.prefix == "" {
		r.prefix = "/static/"
	}
	if !strings.HasPrefix(r.prefix, "/") || !strings.HasSuffix(r.prefix, "/") {
		return nil, fmt.Errorf("ui: StaticPrefix %q must start and end with /", r.prefix)
	}
	fsys := opts.Files
	if fsys == nil {
		fsys = embedded
	}
	var errs []error
	for _, name := range requiredPages {
		t, err := parsePage(fsys, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.pages[name] = t
	}
	assets, err := loadAssets(fsys)
	if err != nil {
		errs = append(errs, err)
	}
	r.assets = assets
	for _, name := range []string{"gatehouse.css", "mark.svg", "autopost.js", "webauthn.js"} {
		if _, ok := assets[name]; !ok {
			errs = append(errs, fmt.Errorf("ui: static/%s is missing", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.cssURL = r.assetURL("gatehouse.css")
	r.iconURL = r.assetURL("mark.svg")
	r.postURL = r.assetURL("autopost.js")
	r.keyURL = r.assetURL("webauthn.js")
	// Execute every page once now, so a template that fails on data
	// (a wrong field name) stops start-up too.
	for name, t := range r.pages {
		if err := t.ExecuteTemplate(io.Discard, "layout", r.view(name, "", zeroData(name))); err != nil {
			errs = append(errs, fmt.Errorf("ui: page %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func zeroData(page string) any {
	switch page {
	case pageLogin:
		return LoginData{Passkey: &PasskeyForm{}}
	case pageError:
		return ErrorData{}.withDefaults()
	case pageLogoutConfirm:
		return LogoutData{}
	case pageAutoPost:
		return AutoPostData{}
	case pageHome:
		return HomeData{}
	case pageForgot:
		return ForgotData{}
	case pageSetPassword:
		return SetPasswordData{}
	case pageNotice:
		return NoticeData{Renew: &RenewForm{}}
	case pageMFACode:
		return MFACodeData{Resend: true}
	case pageTOTPEnrol:
		return TOTPEnrolData{}
	case pageMeMFA:
		return MeMFAData{Factors: []FactorView{{CanReset: true, Flagged: true}}, Recovery: &RecoveryView{}, CanAddTOTP: true, CanAddKey: true,
			SMS:   &SMSOption{AskPhone: true, Invalid: true, Unavailable: "x"},
			Email: &EmailOption{AskAddress: true, OwnRefused: true, Invalid: true}}
	case pageMFAChoose:
		return MFAChooseData{Choices: []ChoiceView{{AskAddress: true, AskPhone: true, AskLabel: true, Phone: "+•••"}, {Unavailable: "x"}}, Skip: true}
	case pageMFANotice:
		return MFANoticeData{Codes: []string{""}}
	case pageWebAuthn:
		return WebAuthnData{Options: "{}", Others: []OtherMethod{{}}, Skip: true}
	case pageSSO:
		return SSOData{}
	case pageUpstream:
		return UpstreamData{URL: "https://idp.example/"}
	case pageMeLinks:
		return LinksData{Links: []LinkRow{{LastUsed: "x"}}}
	case pageMeSessions:
		return SessionsData{Sessions: []SessionRow{{Current: true}, {Federated: true}}, Others: 1}
	case pageMeProfile:
		return ProfileData{Profile: selfservice.Profile{PhoneEditable: true, Required: true}, Error: "x", Notice: "x"}
	case pageMeApps:
		return AppsData{Apps: []AppLink{{Name: "x", URL: "/x"}}}
	case pageSingleLogout:
		return SingleLogoutData{Parties: []LogoutPartyRow{{OK: true}, {}}, ReturnLink: "/x", ReturnAction: "https://x.example/"}
	case pageLink:
		return LinkData{Method: "password", CodeOffered: true, CodeSent: true, Notice: "x"}
	default:
		return LoggedOutData{}
	}
}

func parsePage(fsys fs.FS, name string) (*template.Template, error) {
	for _, f := range []string{"templates/layout.html", "templates/" + name + ".html"} {
		if _, err := fs.Stat(fsys, f); err != nil {
			return nil, fmt.Errorf("ui: page %s: %w", name, err)
		}
	}
	t, err := template.New(name).ParseFS(fsys, "templates/layout.html", "templates/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("ui: page %s: %w", name, err)
	}
	for _, block := range []string{"layout", "title", "content"} {
		if t.Lookup(block) == nil {
			return nil, fmt.Errorf("ui: page %s: template %q is not defined", name, block)
		}
	}
	return t, nil
}

// view is what the layout sees; Page is the page's own data.
type view struct {
	Lang    string
	Product string
	CSSURL  string
	IconURL string
	// ScriptURL is the one script a page loads ("" for none: every page
	// but the auto-post page works without script, and the security-key
	// pages say that they need it).
	ScriptURL string
	// Name is the page's name (data-page on <main>), so that tests and
	// stylesheets can tell one page from another.
	Name string
	// Brand is the organization's look, when the page shows one; Style
	// its rule.
	Brand *Brand
	Style template.CSS
	Page  any
}

func (r *Renderer) view(name, lang string, data any) view {
	v := view{Name: name, Lang: pickLang(lang), Product: r.product, CSSURL: r.cssURL, IconURL: r.iconURL, Page: data}
	v.Brand = brandOf(data)
	v.Style = v.Brand.style()
	return v
}

// LoginData is the password login page.
type LoginData struct {
	// PostURL is where the form posts.
	PostURL   string
	CSRFToken string
	// AuthRequestID is sent back in the hidden field "id".
	AuthRequestID string
	// Method is the back door the form is for, sent back in the hidden
	// field "method" ("" leaves it out: the password).
	Method string
	// Email pre-fills the email field (login_hint, or the last attempt).
	Email string
	// Error is one generic message shown above the form, e.g. "Incorrect
	// email or password." Never say which of the two was wrong.
	Error string
	// ClientName is the application the user is signing in to.
	ClientName string
	// Notice is a non-error message above the form ("Your password is
	// set").
	Notice string
	// ForgotPasswordURL adds a "Forgot password?" link when set.
	ForgotPasswordURL string
	// Lang is ui_locales (space-separated BCP 47 tags); "" means English.
	Lang string
	// FormActionOrigins are the origins the POST's response may redirect
	// to (the client's redirect_uri origin). Browsers apply CSP
	// form-action to every redirect after a form submission, so without
	// them the final redirect to the client is blocked.
	FormActionOrigins []string
	// Passkey, when set, offers signing in with a passkey.
	Passkey *PasskeyForm
	// SSOURL, when set, offers "Sign in with SSO"; the password is then
	// optional (an email alone goes to its organization's sign-in).
	SSOURL string
}

// ErrorData is the generic error page.
type ErrorData struct {
	// Title and Message are shown as is; defaults are generic. Never put
	// internal details here: they go to the log.
	Title   string
	Message string
	// RequestID is shown so support can find the log line.
	RequestID string
	// BackURL adds a "Go back" link when set.
	BackURL string
	Lang    string
}

func (d ErrorData) withDefaults() ErrorData {
	if d.Title == "" {
		d.Title = "Something went wrong"
	}
	if d.Message == "" {
		d.Message = "We couldn't complete your request. Please try again in a moment."
	}
	return d
}

// Field is one hidden form field passed through a page.
type Field struct {
	Name  string
	Value string
}

// LogoutData is the "Sign out?" confirmation for an RP-initiated logout
// without id_token_hint.
type LogoutData struct {
	PostURL   string
	CSRFToken string
	// Fields are passed through as hidden inputs (id_token_hint,
	// post_logout_redirect_uri, state, client_id, ...). A field named
	// csrf_token is dropped.
	Fields []Field
	// CancelURL is where "Cancel" leads (default "/").
	CancelURL string
	// ClientName is the application that asked, if known.
	ClientName        string
	Lang              string
	FormActionOrigins []string
}

// LoggedOutData is the page shown after logout when there is no
// registered post_logout_redirect_uri to return to.
type LoggedOutData struct {
	// ReturnURL adds a "Return to ClientName" link when set.
	ReturnURL  string
	ClientName string
	Lang       string
}

// HomeData is the page at /: what this server is, for a person who
// arrived without an application.
type HomeData struct {
	// Organization names who runs the server ("" to leave it out).
	Organization string
	// DiscoveryURL links the OpenID Connect configuration for developers.
	DiscoveryURL string
	Lang         string
}

// ForgotData is the "forgot password" form.
type ForgotData struct {
	PostURL   string
	CSRFToken string
	// AuthRequestID is the login the user came from ("" for none), sent
	// back in the hidden field "id" so the reset can return to it.
	AuthRequestID string
	Email         string
	// Error is shown above the form (a send that failed, too many tries).
	Error string
	// BackURL leads back to the login ("" for none).
	BackURL string
	Lang    string
}

// RenderForgot renders the forgot-password form with status.
func (r *Renderer) RenderForgot(w http.ResponseWriter, status int, d ForgotData) error {
	return r.render(w, status, pageForgot, d.Lang, d, nil)
}

// SetPasswordData is the form that sets a password: from a reset or
// invite link (Token set) or a change by a signed-in user (AskCurrent).
type SetPasswordData struct {
	Branding
	Heading, Lead string
	PostURL       string
	CSRFToken     string
	Token         string
	// AuthRequestID and Method are sent back in hidden fields when the
	// form is a step of a login (an expired password).
	AuthRequestID, Method string
	// FormActionOrigins: as LoginData's, for a form that ends at the
	// relying party.
	FormActionOrigins []string
	// Email goes in a hidden username field, so a password manager
	// files the new password under the right account.
	Email      string
	AskCurrent bool
	MinLength  int
	Submit     string
	// Error names the rule the last attempt broke, in plain words.
	Error string
	Lang  string
	// Account: the form is the account's password change (/me/password),
	// which shows the account pages' menu.
	Account bool
}

// RenderSetPassword renders the set-password form with status.
func (r *Renderer) RenderSetPassword(w http.ResponseWriter, status int, d SetPasswordData) error {
	if d.MinLength <= 0 {
		d.MinLength = 8
	}
	if d.Submit == "" {
		d.Submit = "Set password"
	}
	return r.render(w, status, pageSetPassword, d.Lang, d, d.FormActionOrigins)
}

// NoticeData is a page that tells something and offers one way on: "check
// your email", "link expired", "password changed".
type NoticeData struct {
	Title      string
	Paragraphs []string
	// Renew adds the one-click "Send me a new link" form.
	Renew *RenewForm
	// LinkURL and LinkLabel add a button-styled link.
	LinkURL, LinkLabel string
	Lang               string
}

// RenewForm posts an expired link's token back for a new link.
type RenewForm struct {
	PostURL, CSRFToken, Token, Kind string
}

// RenderNotice renders a notice page with status.
func (r *Renderer) RenderNotice(w http.ResponseWriter, status int, d NoticeData) error {
	return r.render(w, status, pageNotice, d.Lang, d, nil)
}

// MFACodeData is the form for a second factor's code at the login's mfa
// or enrol step, or at /me.
type MFACodeData struct {
	Branding
	PostURL, CSRFToken    string
	AuthRequestID, Method string
	FactorID              string
	ClientName            string
	// Heading, Lead and Label say what code is asked for; InputMode and
	// Autocomplete suit it ("numeric" and "one-time-code" for a code
	// that arrives or is shown, "text" and "off" for a recovery code).
	Heading, Lead, Label    string
	InputMode, Autocomplete string
	// Notice says where a code was sent; Resend offers a new one, posted
	// to ResendURL ("" is PostURL, with the login's id).
	Notice    string
	Resend    bool
	ResendURL string
	// BackURL adds a way out that changes nothing (/me).
	BackURL string
	// Others are the other methods the user may answer with.
	Others []OtherMethod
	// Skip offers "Skip for now" (an enrolment).
	Skip              bool
	Error             string
	Submit            string
	FormActionOrigins []string
	Lang              string
}

// OtherMethod is a "use another method" button.
type OtherMethod struct{ Method, Label string }

// RenderMFACode renders the code form with status.
func (r *Renderer) RenderMFACode(w http.ResponseWriter, status int, d MFACodeData) error {
	if d.Submit == "" {
		d.Submit = "Continue"
	}
	if d.Heading == "" {
		d.Heading, d.Lead, d.Label = "Enter your code", "Open your authenticator app and enter the 6-digit code it shows", "Code"
	}
	if d.InputMode == "" {
		d.InputMode, d.Autocomplete = "numeric", "one-time-code"
	}
	return r.render(w, status, pageMFACode, d.Lang, d, d.FormActionOrigins)
}

// TOTPEnrolData is the page that adds an authenticator app: its QR code
// (a PNG in a data: URL, which this page's CSP allows for images) and the
// key as text. At a login it posts to the login (AuthRequestID set).
type TOTPEnrolData struct {
	Branding
	PostURL, CSRFToken string
	AuthRequestID      string
	FactorID           string
	QR                 template.URL
	Grouped            string
	// ChooseAgain offers going back to the method choice; Skip offers
	// "Skip for now".
	ChooseAgain, Skip bool
	// Reset: the new app replaces one, which works until it is confirmed
	// (/me). BackURL adds a way out that changes nothing.
	Reset             bool
	BackURL           string
	Error             string
	FormActionOrigins []string
	Lang              string
}

// QRDataURL is png as an image data: URL for TOTPEnrolData.QR.
func QRDataURL(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

// RenderTOTPEnrol renders the enrolment page with status.
func (r *Renderer) RenderTOTPEnrol(w http.ResponseWriter, status int, d TOTPEnrolData) error {
	if err := r.render(w, status, pageTOTPEnrol, d.Lang, d, d.FormActionOrigins); err != nil {
		return err
	}
	return nil
}

// MFAChooseData is the login's choice of a second factor to enrol.
type MFAChooseData struct {
	Branding
	PostURL, CSRFToken, AuthRequestID string
	ClientName                        string
	// Required: the organization or the application asks for it.
	Required          bool
	Choices           []ChoiceView
	Skip              bool
	Error             string
	FormActionOrigins []string
	Lang              string
}

// ChoiceView is one method on the choice page.
type ChoiceView struct {
	Method, Label, Hint, Button string
	// AskAddress shows an address field, prefilled with Address.
	AskAddress bool
	Address    string
	// AskPhone shows a mobile number field; Phone is the number codes go
	// to otherwise (masked); Unavailable replaces the button with why.
	AskPhone    bool
	Phone       string
	Unavailable string
	// AskLabel shows a field naming a new security key.
	AskLabel bool
}

// RenderMFAChoose renders the method choice with status.
func (r *Renderer) RenderMFAChoose(w http.ResponseWriter, status int, d MFAChooseData) error {
	return r.render(w, status, pageMFAChoose, d.Lang, d, d.FormActionOrigins)
}

// MFANoticeData is the page that ends a second factor's part of a login:
// a factor enrolled (with recovery codes, shown once) or a recovery code
// used.
type MFANoticeData struct {
	Branding
	PostURL, CSRFToken, AuthRequestID string
	Heading, Lead                     string
	Codes                             []string
	// Download is the codes as a text file in a data: URL.
	Download   template.URL
	AccountURL string
	// ContinueURL, outside a login (no AuthRequestID), is where Continue
	// leads instead of the login's Finish.
	ContinueURL       string
	FormActionOrigins []string
	Lang              string
}

// RenderMFANotice renders the notice with status.
func (r *Renderer) RenderMFANotice(w http.ResponseWriter, status int, d MFANoticeData) error {
	return r.render(w, status, pageMFANotice, d.Lang, d, d.FormActionOrigins)
}

// FactorView is one factor as the user's list shows it: its kind in
// words, the user's label for it, when it was added and last used.
type FactorView struct {
	ID, Kind, Label, Added, LastUsed string
	// CanReset offers a new secret (an authenticator app).
	CanReset bool
	// Flagged: a security key whose signature counter went backwards (it
	// may have been copied); it can no longer sign in.
	Flagged bool
}

// RecoveryView is the user's recovery codes: Left of Total unused.
type RecoveryView struct{ Left, Total int }

// EmailOption is the form that adds email codes.
type EmailOption struct {
	// AskAddress shows an address field prefilled with Address; without
	// it the codes go to Address, the account's own.
	AskAddress bool
	Address    string
	// OwnRefused: the account's own address may not receive codes (the
	// field's hint says so). Invalid: the page's error is about the
	// address typed.
	OwnRefused, Invalid bool
}

// SMSOption is the form that adds text-message codes.
type SMSOption struct {
	// AskPhone shows a number field, prefilled with Typed (after a
	// refusal, which Invalid says the page's error is about); Phone is
	// the profile's number, masked, otherwise. Unavailable replaces the
	// form with why there is none.
	AskPhone, Invalid bool
	Typed, Phone      string
	Unavailable       string
}

// MeMFAData is the user's two-step sign-in page.
type MeMFAData struct {
	Factors []FactorView
	// Recovery shows the recovery codes' row (nil without a factor).
	Recovery *RecoveryView
	// Enable: the user came to turn two-step sign-in on ("Turn on"
	// at /me), so the page says what happens.
	Enable bool
	// CanAddTOTP offers adding an app; Email, when set, adding email
	// codes.
	CanAddTOTP bool
	Email      *EmailOption
	// CanAddKey offers registering a security key or passkey.
	CanAddKey bool
	// SMS, when set, offers adding text-message codes.
	SMS *SMSOption
	// The forms' targets.
	AddURL, ResetURL, RemoveURL, EmailURL, RecoveryURL, KeyURL, SMSURL string
	CSRFToken                                                          string
	Notice, Error                                                      string
	Lang                                                               string
}

// RenderMeMFA renders the user's two-step sign-in page with status.
func (r *Renderer) RenderMeMFA(w http.ResponseWriter, status int, d MeMFAData) error {
	return r.render(w, status, pageMeMFA, d.Lang, d, nil)
}

// RenderHome renders the page at / (200).
func (r *Renderer) RenderHome(w http.ResponseWriter, d HomeData) error {
	return r.render(w, http.StatusOK, pageHome, d.Lang, d, nil)
}

// AutoPostData is a page that posts Fields to Action at once: the OIDC
// form_post response mode and the SAML HTTP-POST binding. It submits
// itself with a static script and has a Continue button for browsers
// without JavaScript.
type AutoPostData struct {
	Branding
	// Action is the relying party's validated URL (redirect_uri, ACS URL).
	Action  string
	Fields  []Field
	Heading string // default "Signing you in…"
	Lang    string
}

// RenderAutoPost renders the auto-post page (200). Its CSP allows posting
// to Action's origin only, not even to Gatehouse, and scripts from
// Gatehouse only. An Action that is not an http(s) URL is refused.
func (r *Renderer) RenderAutoPost(w http.ResponseWriter, d AutoPostData) error {
	src, ok := sourceExpression(d.Action)
	if !ok || !strings.HasPrefix(src, "http") {
		return fmt.Errorf("ui: auto-post action %q is not an http(s) URL", d.Action)
	}
	t := r.pages[pageAutoPost]
	v := r.view(pageAutoPost, d.Lang, d)
	v.ScriptURL = r.postURL
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("ui: render %s: %w", pageAutoPost, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; form-action "+src+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
	return nil
}

// SSOData is the "Sign in with SSO" page: an email or an organization's
// name.
type SSOData struct {
	PostURL, CSRFToken, AuthRequestID string
	ClientName                        string
	Input, Error                      string
	// BackURL is the password form.
	BackURL           string
	FormActionOrigins []string
	Lang              string
}

// RenderSSO renders the SSO page with status.
func (r *Renderer) RenderSSO(w http.ResponseWriter, status int, d SSOData) error {
	return r.render(w, status, pageSSO, d.Lang, d, d.FormActionOrigins)
}

// UpstreamData is the page that sends the browser on to an upstream
// identity provider. A redirect answering the login form's POST would be
// held to that form's CSP form-action, which cannot know the upstream in
// advance; this page is a new navigation, by a refresh and a link, that
// works without JavaScript.
type UpstreamData struct {
	Branding
	Name string
	URL  string
	Lang string
}

// RenderUpstream renders the page (200) that continues to d.URL, an
// http(s) URL.
func (r *Renderer) RenderUpstream(w http.ResponseWriter, d UpstreamData) error {
	if src, ok := sourceExpression(d.URL); !ok || !strings.HasPrefix(src, "http") {
		return fmt.Errorf("ui: upstream URL %q is not an http(s) URL", d.URL)
	}
	// Refresh is the header form of <meta http-equiv=refresh>: no
	// script, and the URL stays out of the markup's escaping rules.
	w.Header().Set("Refresh", "0; url="+d.URL)
	w.Header().Set("Referrer-Policy", "no-referrer")
	return r.render(w, http.StatusOK, pageUpstream, d.Lang, d, nil)
}

// LinkData is the page where a person proves the local account their
// company sign-in's email matched, before the two are linked.
type LinkData struct {
	Branding
	PostURL, CSRFToken, AuthRequestID string
	// Email is the local account's (the address the upstream gave).
	Email string
	// Method is the form's back door (the password); "" when the account
	// has none.
	Method string
	// CodeOffered offers a code sent to Email instead; CodeSent shows the
	// form for the code that was sent, with Notice (a send cap reached,
	// the mail server down).
	CodeOffered, CodeSent bool
	Notice                string
	Error                 string
	FormActionOrigins     []string
	Lang                  string
}

// RenderLink renders the link page with status.
func (r *Renderer) RenderLink(w http.ResponseWriter, status int, d LinkData) error {
	return r.render(w, status, pageLink, d.Lang, d, d.FormActionOrigins)
}

// RenderLogin renders the login page with status (200, or 401/403 after
// a failed attempt, 429 when throttled). On error nothing was written.
// With a passkey offer it loads the WebAuthn script.
func (r *Renderer) RenderLogin(w http.ResponseWriter, status int, d LoginData) error {
	script := ""
	if d.Passkey != nil {
		script = r.keyURL
	}
	return r.renderScript(w, status, pageLogin, d.Lang, d, d.FormActionOrigins, script)
}

// WebAuthnData is a security key's page: registering one (Register) or
// signing in with one, at a login's mfa or enrol step or at /me. The
// ceremony runs in webauthn.js, which this page loads; Options is its
// options JSON. Without Options (the method said why, in Notice) there
// is no ceremony to run.
type WebAuthnData struct {
	Branding
	PostURL, CSRFToken    string
	AuthRequestID         string
	FactorID              string
	ClientName            string
	Register              bool
	Heading, Lead, Submit string
	Options               string
	Notice, Error         string
	// Others are the other methods the user may answer with; Skip offers
	// "Skip for now"; BackURL a way out that changes nothing (/me).
	Others            []OtherMethod
	Skip              bool
	BackURL           string
	FormActionOrigins []string
	Lang              string
}

// RenderWebAuthn renders a security key's page with status.
func (r *Renderer) RenderWebAuthn(w http.ResponseWriter, status int, d WebAuthnData) error {
	return r.renderScript(w, status, pageWebAuthn, d.Lang, d, d.FormActionOrigins, r.keyURL)
}

// PasskeyForm is the login page's "Sign in with a passkey": a form of
// its own (method passkey) that webauthn.js completes, offered also to
// the email field's autofill (conditional mediation).
type PasskeyForm struct {
	Method  string
	Options string
}

// RenderError renders the error page with status. On error nothing was
// written.
func (r *Renderer) RenderError(w http.ResponseWriter, status int, d ErrorData) error {
	return r.render(w, status, pageError, d.Lang, d.withDefaults(), nil)
}

// RenderLogoutConfirm renders the logout confirmation (200).
func (r *Renderer) RenderLogoutConfirm(w http.ResponseWriter, d LogoutData) error {
	fields := make([]Field, 0, len(d.Fields))
	for _, f := range d.Fields {
		if f.Name != "" && f.Name != "csrf_token" {
			fields = append(fields, f)
		}
	}
	d.Fields = fields
	if d.CancelURL == "" {
		d.CancelURL = "/"
	}
	return r.render(w, http.StatusOK, pageLogoutConfirm, d.Lang, d, d.FormActionOrigins)
}

// RenderLoggedOut renders the signed-out page (200).
func (r *Renderer) RenderLoggedOut(w http.ResponseWriter, d LoggedOutData) error {
	return r.render(w, http.StatusOK, pageLoggedOut, d.Lang, d, nil)
}

func (r *Renderer) render(w http.ResponseWriter, status int, page, lang string, data any, formOrigins []string) error {
	return r.renderScript(w, status, page, lang, data, formOrigins, "")
}

// renderScript is render for a page that loads script (a URL of
// assetURL's, so under the CSP's script-src 'self').
func (r *Renderer) renderScript(w http.ResponseWriter, status int, page, lang string, data any, formOrigins []string, script string) error {
	t, ok := r.pages[page]
	if !ok {
		return fmt.Errorf("ui: unknown page %q", page)
	}
	v := r.view(page, lang, data)
	v.ScriptURL = script
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("ui: render %s: %w", page, err)
	}
	if status < 100 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	csp := CSP(formOrigins...)
	// The QR code is a data: image: it is rendered with the page, so the
	// secret never gets a URL of its own.
	dataImg := ""
	if page == pageTOTPEnrol {
		dataImg = " data:"
	}
	csp += brandOf(data).csp(dataImg)
	h.Set("Content-Security-Policy", csp)
	// Not no-referrer: under no-referrer browsers send "Origin: null"
	// with same-origin form posts, which hides the origin idp/csrf checks.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w) // a write error means the client left
	return nil
}

// CSP is the page policy: httpserver.DefaultCSP with form-action widened
// to formOrigins. Each entry is reduced to its origin (http, https) or, for
// a native app's private-use scheme, to "scheme:"; anything else
// (javascript:, data:, malformed) is dropped, so it cannot inject a
// directive.
func CSP(formOrigins ...string) string {
	var b strings.Builder
	b.WriteString(baseCSP)
	b.WriteString("; form-action 'self'")
	seen := map[string]bool{}
	for _, o := range formOrigins {
		src, ok := sourceExpression(o)
		if !ok || seen[src] {
			continue
		}
		seen[src] = true
		b.WriteString(" ")
		b.WriteString(src)
	}
	return b.String()
}

var (
	originRE = regexp.MustCompile(`^https?://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$`)
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// unsafeSchemes never go into form-action.
var unsafeSchemes = map[string]bool{
	"javascript": true, "data": true, "blob": true, "filesystem": true,
	"about": true, "file": true, "vbscript": true, "ws": true, "wss": true,
}

func sourceExpression(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "http" || scheme == "https" {
		if u.Host == "" || u.User != nil {
			return "", false
		}
		origin := scheme + "://" + strings.ToLower(u.Host)
		return origin, originRE.MatchString(origin)
	}
	if unsafeSchemes[scheme] || !schemeRE.MatchString(scheme) {
		return "", false
	}
	return scheme + ":", true
}

var (
	supportedLangs = []language.Tag{language.English}
	langMatcher    = language.NewMatcher(supportedLangs)
)

// pickLang returns the supported language that best matches ui_locales
// (space-separated tags), English when none does.
func pickLang(uiLocales string) string {
	var tags []language.Tag
	for _, s := range strings.Fields(uiLocales) {
		if len(tags) == 10 {
			break
		}
		if t, err := language.Parse(s); err == nil {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return supportedLangs[0].String()
	}
	_, i, _ := langMatcher.Match(tags...)
	return supportedLangs[i].String()
}

func sortedKeys(v url.Values) []string { return slices.Sorted(maps.Keys(v)) }
