package e2e

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// TestSAMLMetadata: the IdP's metadata names its entity id, SSO and SLO
// endpoints for both bindings and only signing keys, is cacheable and
// bounded by validUntil; during a rotation it lists the next certificate
// beside the current one, which keeps signing until the next's turn.
func TestSAMLMetadata(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		resp, err := http.Get(h.issuer + samlidp.PathMetadata)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=3600" {
			t.Errorf("Cache-Control %q", cc)
		}
		parse := func() *crewjam.IDPSSODescriptor {
			var ed crewjam.EntityDescriptor
			if err := xml.Unmarshal(h.idpMetadata(t), &ed); err != nil {
				t.Fatal(err)
			}
			if ed.EntityID != h.issuer+"/saml/metadata" || ed.ValidUntil.Before(time.Now().Add(24*time.Hour)) || len(ed.IDPSSODescriptors) != 1 {
				t.Fatalf("entity %q validUntil %s", ed.EntityID, ed.ValidUntil)
			}
			return &ed.IDPSSODescriptors[0]
		}
		d := parse()
		bindings := func(eps []crewjam.Endpoint, url string) bool {
			var redirect, post bool
			for _, ep := range eps {
				redirect = redirect || (ep.Binding == crewjam.HTTPRedirectBinding && ep.Location == url)
				post = post || (ep.Binding == crewjam.HTTPPostBinding && ep.Location == url)
			}
			return redirect && post
		}
		if !bindings(d.SingleSignOnServices, h.issuer+samlidp.PathSSO) || !bindings(d.SingleLogoutServices, h.issuer+"/saml/slo") {
			t.Errorf("endpoints SSO %+v SLO %+v", d.SingleSignOnServices, d.SingleLogoutServices)
		}
		certs := func(d *crewjam.IDPSSODescriptor) []string {
			var out []string
			for _, kd := range d.KeyDescriptors {
				if kd.Use != "signing" {
					t.Errorf("a KeyDescriptor for %q", kd.Use)
				}
				out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
			}
			return out
		}
		before := certs(d)
		if len(before) != 1 {
			t.Fatalf("%d signing certificates, want 1", len(before))
		}

		// A rotation publishes the next certificate at once; the current
		// one signs until the next's publish-ahead has passed.
		if _, err := h.inst.SAMLKeys.Rotate(h.ctx); err != nil {
			t.Fatal(err)
		}
		during := certs(parse())
		if len(during) != 2 || (during[0] != before[0] && during[1] != before[0]) {
			t.Fatalf("during the rotation: %d certificates", len(during))
		}
		h.user(aliceEmail, alicePW)
		app := h.samlApp(t, "Expenses", upstreamtest.SAMLSPOptions{}, storage.SPSettings{})
		b := h.browser()
		_, fields := b.samlSignIn(t, app, "/", aliceEmail)
		if _, raw := assertionOf(t, fields); !strings.Contains(raw, before[0]) {
			t.Error("the response is not signed with the current key during the rotation")
		}
	})
}
