package ui

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/url"

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
)

// Branding of the sign-in pages: once a login knows whose it is (after
// the email step; the organization of an SSO connector), the pages show
// that organization's name, logo and accent colour instead of Gatehouse's.
// idp/admin checks the values (an https logo; an accent dark enough for
// white text); the page's CSP admits the logo's origin for images and the
// one style rule the accent makes, by its hash: nothing else.

// Brand is an organization's look.
type Brand struct {
	Name    string
	LogoURL string
	// Accent is #rrggbb.
	Accent string
}

// Brands finds the brand of a login's organization; ok is false when the
// organization has none.
type Brands interface {
	UserBrand(ctx context.Context, userID string) (b Brand, ok bool, err error)
	ConnectorBrand(ctx context.Context, connectorID string) (b Brand, ok bool, err error)
}

// Branding is embedded in the data of the pages a brand may show on.
type Branding struct {
	Brand *Brand
}

func (b Branding) brandOf() *Brand { return b.Brand }

// brandOf is the brand of a page's data, or nil.
func brandOf(data any) *Brand {
	if d, ok := data.(interface{ brandOf() *Brand }); ok {
		return d.brandOf()
	}
	return nil
}

// style is the one rule a brand adds to the page, as the <style> holds it.
func (b *Brand) style() template.CSS {
	if b == nil || b.Accent == "" {
		return ""
	}
	return template.CSS(".button.primary,.button.primary:hover{background:" + b.Accent + ";color:#ffffff}" +
		".brand{border-bottom:3px solid " + b.Accent + "}")
}

// csp is what the page adds to its CSP: img-src for the brand's logo
// origin and dataImg (the page's own " data:", or ""), when either is
// set; style-src for the brand's rule, by its hash. b may be nil.
func (b *Brand) csp(dataImg string) string {
	img := dataImg
	if b != nil && b.LogoURL != "" {
		if u, err := url.Parse(b.LogoURL); err == nil && u.Host != "" {
			img = " " + u.Scheme + "://" + u.Host + img
		}
	}
	out := ""
	if img != "" {
		out += "; img-src 'self'" + img
	}
	if st := b.style(); st != "" {
		sum := sha256.Sum256([]byte(st))
		out += "; style-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return out
}

// brandFor is the brand the pages of out show, nil for none (or when it
// cannot be read: the page then looks like Gatehouse's, and the log says
// why).
func (h *Handlers) brandFor(ctx context.Context, out authflow.Outcome) *Brand {
	if h.Brands == nil {
		return nil
	}
	var (
		b   Brand
		ok  bool
		err error
	)
	switch {
	case out.Upstream != nil && out.Upstream.Connector != "":
		b, ok, err = h.Brands.ConnectorBrand(ctx, out.Upstream.Connector)
	case out.Request.UserID != "":
		b, ok, err = h.Brands.UserBrand(ctx, out.Request.UserID)
	}
	if err != nil {
		h.Logger.WarnContext(ctx, "brand not shown", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	return &b
}
