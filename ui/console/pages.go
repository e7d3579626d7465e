package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// overviewData is the first page.
type overviewData struct {
	admin.Overview
	Hours, Days chart
}

func (h *Handlers) overview(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathHome, false)
	if !ok {
		return
	}
	ov, err := h.Admin.GetOverview(r.Context(), c.reach)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d := overviewData{Overview: ov, Hours: newChart(ov.Hours, "15:04"), Days: newChart(ov.Days, "Jan 2")}
	h.render(w, r, http.StatusOK, pageOverview, "Overview", &c, d)
}

// orgOption is an organization in a filter's select.
type orgOption struct {
	ID, Name string
	Selected bool
}

// orgsInReach are the organizations c may pick, each keyed by key (its
// ID or its name); the one whose key is selected is ticked.
func (h *Handlers) orgsInReach(r *http.Request, c caller, selected string, key func(storage.Organization) string) ([]orgOption, error) {
	orgs, err := h.Admin.ListOrgs(r.Context())
	if err != nil {
		return nil, err
	}
	var out []orgOption
	for _, o := range orgs {
		if c.reach.Org(o.ID) {
			out = append(out, orgOption{ID: key(o), Name: o.DisplayName, Selected: key(o) == selected})
		}
	}
	return out, nil
}

func byID(o storage.Organization) string   { return o.ID }
func byName(o storage.Organization) string { return o.Name }

type option struct {
	Value, Label string
	Selected     bool
}

func options(pairs [][2]string, selected string) []option {
	out := []option{{Value: "", Label: "Any", Selected: selected == ""}}
	for _, p := range pairs {
		out = append(out, option{Value: p[0], Label: p[1], Selected: p[0] == selected})
	}
	return out
}

// usersData is the users list.
type usersData struct {
	Filter                        admin.UserFilter
	Orgs                          []orgOption
	AllOrgs                       bool
	States, MFA, LastLogin        []option
	Actions                       []option
	Page                          admin.UserPage
	NextURL, PrevURL              string
	CSRFToken, BulkURL, UsersPath string
}

var stateFilters = [][2]string{{string(storage.UserInvited), "Invited"}, {string(storage.UserActive), "Active"},
	{string(storage.UserDisabled), "Disabled"}, {admin.StateLocked, "Locked now"}}

var mfaFilters = [][2]string{{storage.MFAStatusEnrolled, "Enrolled"}, {storage.MFAStatusSkipped, "Skipped"},
	{storage.MFAStatusNone, "None"}}

func (h *Handlers) users(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathUsers+queryOf(r), false)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := admin.UserFilter{OrgID: q.Get("org"), Search: q.Get("q"), State: q.Get("state"), MFA: q.Get("mfa"),
		LastLogin: q.Get("last"), After: q.Get("after"), Before: q.Get("before")}
	page, err := h.Admin.SearchUsers(r.Context(), c.reach, f)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	orgs, err := h.orgsInReach(r, c, page.OrgID, byID)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d := usersData{Orgs: orgs, Filter: f, AllOrgs: c.admin, States: options(stateFilters, f.State), MFA: options(mfaFilters, f.MFA),
		LastLogin: options(admin.LastLoginFilters, f.LastLogin), Page: page, CSRFToken: h.CSRF.Token(w, r, bindForms),
		BulkURL: PathBulk, UsersPath: PathUsers}
	d.Actions = options(admin.BulkActions, "")[1:]
	link := func(key, cursor string) string {
		if cursor == "" {
			return ""
		}
		v := url.Values{}
		for k, val := range map[string]string{"org": f.OrgID, "q": f.Search, "state": f.State, "mfa": f.MFA, "last": f.LastLogin, key: cursor} {
			if val != "" {
				v.Set(k, val)
			}
		}
		return PathUsers + "?" + v.Encode()
	}
	d.NextURL, d.PrevURL = link("after", page.Next), link("before", page.Prev)
	h.render(w, r, http.StatusOK, pageUsers, "Users", &c, d)
}

func queryOf(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// bulkData is the confirmation of a bulk action.
type bulkData struct {
	Action, Label string
	Users         []storage.User
	// Shown are the first users by name; More how many are not shown.
	Shown     []storage.User
	More      int
	Missing   int
	IDs       []string
	Methods   []string
	Reason    string
	Error     string
	CSRFToken string
	RunURL    string
	BackURL   string
}

// shownNames is how many users a confirmation names.
const shownNames = 10

func actionLabel(action string) string {
	for _, a := range admin.BulkActions {
		if a[0] == action {
			return a[1]
		}
	}
	return ""
}

// bulkConfirm shows what a bulk action will do, to whom, and asks for the
// reason. It changes nothing.
func (h *Handlers) bulkConfirm(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	c, ok := h.who(w, r, bulkReturn(form.Get("action"), form["id"]), true)
	if !ok {
		return
	}
	action := form.Get("action")
	if actionLabel(action) == "" {
		h.fail(w, r, http.StatusUnprocessableEntity, "Choose an action.", nil)
		return
	}
	h.confirm(w, r, c, http.StatusOK, action, form["id"], "", "")
}

// maxReturnIDs bounds the ticked users a sign-in's return path carries.
const maxReturnIDs = 200

// bulkReturn is where a bulk action's fresh sign-in returns: its
// confirmation, read-only (GET), with the users still ticked; the list
// when there are too many to carry.
func bulkReturn(action string, ids []string) string {
	if len(ids) == 0 || len(ids) > maxReturnIDs || actionLabel(action) == "" {
		return PathUsers
	}
	return PathBulk + "?" + url.Values{"action": {action}, "id": ids}.Encode()
}

func (h *Handlers) confirm(w http.ResponseWriter, r *http.Request, c caller, status int, action string, ids []string, reason, msg string) {
	if len(ids) == 0 {
		h.fail(w, r, http.StatusUnprocessableEntity, "Tick at least one user in the list.", nil)
		return
	}
	users, missing, err := h.Admin.UsersByID(r.Context(), c.reach, ids)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	if len(users) == 0 {
		h.fail(w, r, http.StatusNotFound, "None of the users you ticked can be found.", nil)
		return
	}
	d := bulkData{Action: action, Label: actionLabel(action), Users: users, Missing: missing, Reason: reason, Error: msg,
		CSRFToken: h.CSRF.Token(w, r, bindForms), RunURL: PathBulkRun, BackURL: PathUsers}
	d.Shown = users[:min(len(users), shownNames)]
	d.More = len(users) - len(d.Shown)
	for _, u := range users {
		d.IDs = append(d.IDs, u.ID)
	}
	if action == admin.BulkResetMFA {
		d.Methods = h.Methods
	}
	h.render(w, r, status, pageBulkConfirm, "Confirm: "+d.Label, &c, d)
}

// resultRow is one user's line of a bulk action's results.
type resultRow struct {
	Who, Outcome string
	OK           bool
}

type bulkDoneData struct {
	Label    string
	Rows     []resultRow
	Done     int
	Failed   int
	UsersURL string
}

func (h *Handlers) bulkRun(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, bulkReturn(r.PostForm.Get("action"), r.PostForm["id"]), true)
	if !ok {
		return
	}
	f := r.PostForm
	in := admin.BulkInput{Action: f.Get("action"), IDs: f["id"], Reason: f.Get("reason"), Method: f.Get("method"), Self: c.user.ID}
	if _, err := admin.CheckBulk(in); err != nil {
		var msg string
		if ie := (*admin.InputError)(nil); errors.As(err, &ie) {
			msg = ie.Msg
		}
		if actionLabel(in.Action) == "" || len(in.IDs) == 0 || msg == "" {
			h.actionError(w, r, err)
			return
		}
		h.confirm(w, r, c, http.StatusUnprocessableEntity, in.Action, in.IDs, in.Reason, capitalise(msg)+".")
		return
	}
	res, err := h.Admin.Bulk(r.Context(), c.actor(), c.reach, in)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d := bulkDoneData{Label: actionLabel(in.Action), UsersURL: PathUsers}
	for _, x := range res {
		row := resultRow{Who: x.User.Email, OK: x.Err == nil}
		if row.Who == "" {
			row.Who = "A user who is not in your list"
		}
		var ie *admin.InputError
		switch {
		case x.Err == nil && x.Note != "":
			row.Outcome = "Done (" + x.Note + ")"
		case x.Err == nil:
			row.Outcome = "Done"
		case errors.As(x.Err, &ie):
			row.Outcome = capitalise(ie.Msg)
		default:
			h.Logger.ErrorContext(r.Context(), "console: bulk action failed for a user", "action", in.Action, "user", x.Ref.String(), "err", x.Err)
			row.Outcome = "Not done: " + strings.ToLower(msgFailed[:1]) + msgFailed[1:]
		}
		if row.OK {
			d.Done++
		} else {
			d.Failed++
		}
		d.Rows = append(d.Rows, row)
	}
	h.render(w, r, http.StatusOK, pageBulkDone, d.Label+": done", &c, d)
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
