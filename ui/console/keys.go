package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The Keys page: the OIDC and SAML signing keys' timeline (created, signs
// from, retires, unpublished) and "Rotate". An admin's; a rotation needs a
// recent sign-in. idp/keys decides how a rotation goes: the new key is
// published first and signs later, so relying parties fetch it in time.

// Paths of the keys page.
const (
	PathKeys       = "/admin/keys"
	pathKeysRotate = "/admin/keys/rotate"
)

// KeyAdmin is what the keys page needs of idp/admin.
type KeyAdmin interface {
	ListKeys(ctx context.Context) ([]keys.KeyStatus, error)
	RotateKeys(ctx context.Context, actor, use, alg string) ([]admin.KeyRotation, error)
}

var _ KeyAdmin = (*admin.Service)(nil)

type keyRow struct {
	Status keys.KeyStatus
	Use    string
}

type keysData struct {
	Rows      []keyRow
	Rotated   []admin.KeyRotation
	Chains    []option
	CSRFToken string
	RotateURL string
}

// keyChains are the chains a rotation may name, as use/alg: every OIDC
// algorithm, each one, and SAML.
func keyChains() [][2]string {
	out := [][2]string{{"oidc/", "Every OpenID Connect algorithm"}}
	for _, a := range keys.Algorithms() {
		out = append(out, [2]string{"oidc/" + a, "OpenID Connect " + a})
	}
	return append(out, [2]string{"saml/", "SAML"})
}

func (h *Handlers) keysPage(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathKeys, false)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	h.keysShow(w, r, c, keysData{})
}

func (h *Handlers) keysShow(w http.ResponseWriter, r *http.Request, c caller, d keysData) {
	list, err := h.Keys.ListKeys(r.Context())
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	for _, st := range list {
		use := "OpenID Connect"
		if st.Key.Use == storage.KeyUseSAML {
			use = "SAML"
		}
		d.Rows = append(d.Rows, keyRow{Status: st, Use: use})
	}
	d.Chains = options(keyChains(), "")[1:]
	d.CSRFToken, d.RotateURL = h.CSRF.Token(w, r, bindForms), pathKeysRotate
	h.render(w, r, http.StatusOK, pageKeys, "Signing keys", &c, d)
}

func (h *Handlers) keysRotate(w http.ResponseWriter, r *http.Request) {
	c, ok := h.who(w, r, PathKeys, true)
	if !ok || !h.adminOnly(w, r, c) {
		return
	}
	use, alg, _ := strings.Cut(r.PostForm.Get("chain"), "/")
	rs, err := h.Keys.RotateKeys(r.Context(), c.actor(), use, alg)
	if err != nil {
		h.actionError(w, r, err)
		return
	}
	h.keysShow(w, r, c, keysData{Rotated: rs})
}
