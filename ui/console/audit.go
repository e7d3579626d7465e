package console

import (
	"encoding/csv"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
)

// The audit log: events in the caller's reach, filtered by organization,
// user, type and days, newest first, with "Older events" by cursor and the
// same selection as CSV.

// Paths of the audit log.
const (
	PathAudit    = "/admin/audit"
	PathAuditCSV = "/admin/audit.csv"
)

// maxExport bounds one CSV export; a wider one is asked for by days.
const maxExport = 50000

// eventTypes are offered as suggestions in the type filter; any type may
// be typed.
var eventTypes = []string{audit.LoginFailed, audit.LoginSucceeded, audit.UserLocked, audit.UserUnlocked,
	audit.UserMFAReset, audit.UserDisabled, audit.SessionRevoked, audit.OrgMFAPolicyChanged, audit.OrgPasswordPolicyChanged,
	audit.OrgUpdated, audit.ClientCreated, audit.ClientSecretRotated, audit.PasswordReset, audit.InviteSent,
	audit.FactorAdded, audit.MFASkipped}

type auditData struct {
	Filter          admin.AuditFilter
	Orgs            []orgOption
	AllOrgs         bool
	Types           []string
	Rows            []auditRow
	OlderURL        string
	CSVURL, SelfURL string
}

type auditRow struct {
	admin.AuditRow
	Details string
}

func auditFilter(r *http.Request) admin.AuditFilter {
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	return admin.AuditFilter{OrgID: q.Get("org"), User: q.Get("user"), Type: q.Get("type"), Since: q.Get("from"),
		Until: q.Get("to"), Before: max(before, 0)}
}

// query is f as the page's query string, cursor aside.
func auditQuery(f admin.AuditFilter) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"org": f.OrgID, "user": f.User, "type": f.Type, "from": f.Since, "to": f.Until} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

func (h *Handlers) audit(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathAudit+queryOf(r), false)
	if !ok {
		return
	}
	f := auditFilter(r)
	page, err := h.Admin.SearchAudit(r.Context(), c.reach, f)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	orgs, err := h.orgsInReach(r, c, page.OrgID, byID)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	d := auditData{Filter: f, Orgs: orgs, AllOrgs: c.admin, Types: eventTypes, SelfURL: PathAudit}
	for _, row := range page.Rows {
		d.Rows = append(d.Rows, auditRow{AuditRow: row, Details: details(row.Event.Details)})
	}
	v := auditQuery(f)
	if page.OrgID != "" {
		v.Set("org", page.OrgID)
	}
	d.CSVURL = PathAuditCSV + "?" + v.Encode()
	if page.Next != 0 {
		v.Set("before", strconv.FormatInt(page.Next, 10))
		d.OlderURL = PathAudit + "?" + v.Encode()
	}
	h.render(w, r, http.StatusOK, pageAudit, "Audit log", &c, d)
}

// details is an event's details in one cell: "key=value; ..." by key.
func details(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, "; ")
}

// auditCSV streams the selection of the audit page as CSV, newest first,
// at most maxExport events. A filter the page refuses is refused here the
// same way, before anything is written.
func (h *Handlers) auditCSV(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathAudit+queryOf(r), false)
	if !ok {
		return
	}
	f := auditFilter(r)
	f.Limit = admin.MaxAuditPage
	page, err := h.Admin.SearchAudit(r.Context(), c.reach, f)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="gatehouse-audit-`+h.Flow.Now().UTC().Format("20060102-150405")+`.csv"`)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "type", "organization", "user", "actor", "client", "ip", "user_agent", "request_id", "details"})
	n := 0
	for {
		for _, row := range page.Rows {
			ev := row.Event
			_ = cw.Write(cells(strconv.FormatInt(ev.ID, 10), ev.Time.UTC().Format(time.RFC3339), ev.Type, row.Org, row.User,
				ev.ActorID, ev.ClientID, ev.IP, ev.UserAgent, ev.RequestID, details(ev.Details)))
			n++
		}
		if page.Next == 0 || n >= maxExport {
			break
		}
		f.Before = page.Next
		if page, err = h.Admin.SearchAudit(r.Context(), c.reach, f); err != nil {
			// The header is sent: the file ends early, and says so.
			h.Logger.ErrorContext(r.Context(), "console: audit export", "err", err, "rows", n)
			_ = cw.Write([]string{"", "", "export.incomplete", "", "", "", "", "", "", "", "the server could not read further events; the log has the detail"})
			break
		}
	}
	if n >= maxExport && page.Next != 0 {
		_ = cw.Write([]string{"", "", "export.truncated", "", "", "", "", "", "", "", "at most " + strconv.Itoa(maxExport) + " events per export; narrow the days"})
	}
	cw.Flush()
}

// cells guards a CSV row against formula injection: a spreadsheet runs a
// cell that starts with = + - @ (or a tab or carriage return) as a
// formula, and event fields hold what users typed (a user agent, a name).
func cells(vs ...string) []string {
	for i, v := range vs {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			vs[i] = "'" + v
		}
	}
	return vs
}
