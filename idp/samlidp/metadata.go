package samlidp

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/crewjam/saml"
)

// metadataMaxAge is how long a cache may keep the metadata: short against
// its validity, so that a rotation's next certificate, published ahead of
// use, reaches a provider that fetches through a cache in time.
const metadataMaxAge = 3600

// serveMetadata publishes the IdP's metadata: entity id, SSO and SLO
// endpoints for both bindings, the NameID formats, and the signing
// certificates (the current one and, during a rotation, the next).
func (p *Provider) serveMetadata(w http.ResponseWriter, r *http.Request) {
	buf, err := p.Metadata(r.Context())
	if err != nil {
		p.fail(w, r, "metadata", err, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/samlmetadata+xml")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(metadataMaxAge))
	h.Set("Content-Disposition", `inline; filename="gatehouse-idp-metadata.xml"`)
	_, _ = w.Write(buf)
}

// Metadata returns the IdP's metadata document.
func (p *Provider) Metadata(ctx context.Context) ([]byte, error) {
	idp, err := p.identityProvider(ctx)
	if err != nil {
		return nil, err
	}
	ed := idp.Metadata()
	// The library also offers the signing certificate for encryption. We
	// take no encrypted messages, and one key should not do both jobs:
	// only signing keys are published.
	for i := range ed.IDPSSODescriptors {
		d := &ed.IDPSSODescriptors[i]
		d.KeyDescriptors = slices.DeleteFunc(d.KeyDescriptors, func(kd saml.KeyDescriptor) bool { return kd.Use == "encryption" })
	}
	buf, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("samlidp: metadata: %w", err)
	}
	return append([]byte(xml.Header), append(buf, '\n')...), nil
}
