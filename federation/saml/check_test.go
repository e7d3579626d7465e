package saml_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/federation"
	fsaml "github.com/gatehouse-idp/gatehouse/federation/saml"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// TestCheck reports what is wrong with the IdP's metadata.
func TestCheck(t *testing.T) {
	inline := func(edit func(md *crewjam.EntityDescriptor)) func(u *upstream, s *federation.SAMLSettings) {
		return func(u *upstream, s *federation.SAMLSettings) {
			md := u.idp.Metadata()
			edit(md)
			raw, _ := xml.Marshal(md)
			s.MetadataURL, s.Metadata = "", string(raw)
		}
	}
	tests := []struct {
		name  string
		edit  func(u *upstream, s *federation.SAMLSettings)
		after func(u *upstream) // between Open and Check
		want  []string
	}{
		{name: "healthy"},
		{name: "healthy, pinned", edit: func(u *upstream, s *federation.SAMLSettings) { s.Certificate = certPEM(keys.idpCert) }},
		{name: "healthy, inline", edit: inline(func(*crewjam.EntityDescriptor) {})},
		{name: "unreachable", after: func(u *upstream) { u.srv.Close() }, want: []string{"unreachable"}},
		{name: "not metadata", after: func(u *upstream) { u.metadataBody = "<html>sign in</html>" }, want: []string{"invalid_metadata"}},
		{name: "no signing certificate", edit: inline(func(md *crewjam.EntityDescriptor) {
			md.IDPSSODescriptors[0].KeyDescriptors = md.IDPSSODescriptors[0].KeyDescriptors[1:] // encryption only
		}), want: []string{"no_signing_certificate"}},
		{name: "certificate expiring within 30 days", edit: func(u *upstream, s *federation.SAMLSettings) {
			u.idp.Certificate = keys.expiringCert
		}, want: []string{"certificate_expiring"}},
		{name: "certificate expired", edit: func(u *upstream, s *federation.SAMLSettings) {
			u.idp.Certificate = keys.expiringCert
		}, after: func(u *upstream) { u.clock.Advance(11 * 24 * time.Hour) }, want: []string{"certificate_expired"}},
		{name: "pinned certificate rotated away", edit: func(u *upstream, s *federation.SAMLSettings) {
			s.Certificate = certPEM(keys.otherCert)
		}, want: []string{"certificate_rotated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			conn := u.connect(false, func(s *federation.SAMLSettings) {
				if tt.edit != nil {
					tt.edit(u, s)
				}
			})
			if tt.after != nil {
				u.set(tt.after)
			}
			var got []string
			for _, p := range conn.Check(context.Background()) {
				got = append(got, p.Code)
				if p.Message == "" {
					t.Errorf("problem %q has no message", p.Code)
				}
				t.Log(p)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Check = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOpen refuses settings that cannot work.
func TestOpen(t *testing.T) {
	u := newUpstream(t)
	md, _ := xml.Marshal(u.idp.Metadata())
	otherSPCert, _, err := fsaml.NewSPKey(t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		settings federation.SAMLSettings
		dev      bool
		secret   []byte
		typ      string
		want     error
	}{
		{name: "http metadata URL off loopback", settings: federation.SAMLSettings{MetadataURL: "http://idp.example.com/metadata"},
			dev: true, want: federation.ErrInsecureURL},
		{name: "http metadata URL on loopback without dev", settings: federation.SAMLSettings{MetadataURL: u.srv.URL + "/metadata"},
			want: federation.ErrInsecureURL},
		{name: "no metadata", dev: true},
		{name: "metadata by URL and inline", dev: true,
			settings: federation.SAMLSettings{MetadataURL: u.srv.URL + "/metadata", Metadata: string(md)}},
		{name: "inline metadata not XML", dev: true, settings: federation.SAMLSettings{Metadata: "metadata"}},
		{name: "inline metadata with a DTD", dev: true,
			settings: federation.SAMLSettings{Metadata: `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + string(md)}},
		{name: "inline metadata with an http SSO URL, without dev", settings: federation.SAMLSettings{Metadata: string(md)}},
		{name: "inline metadata of an SP", dev: true, settings: federation.SAMLSettings{Metadata: strings.ReplaceAll(
			strings.ReplaceAll(string(md), "IDPSSODescriptor", "SPSSODescriptor"), "SingleSignOnService", "AssertionConsumerService")}},
		{name: "pinned certificate not PEM", dev: true, settings: federation.SAMLSettings{Metadata: string(md), Certificate: "MIIB..."}},
		{name: "SP certificate without a key", dev: true, settings: federation.SAMLSettings{Metadata: string(md), SPCertificate: keys.spCertPEM}},
		{name: "SP key without a certificate", dev: true, settings: federation.SAMLSettings{Metadata: string(md)}, secret: keys.spKeyDER},
		{name: "SP certificate of another key", dev: true, settings: federation.SAMLSettings{Metadata: string(md), SPCertificate: otherSPCert},
			secret: keys.spKeyDER},
		{name: "not a SAML connector", dev: true, settings: federation.SAMLSettings{Metadata: string(md)}, typ: storage.ConnectorOIDC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := json.Marshal(tt.settings)
			c := storage.Connector{ID: "acme", Type: storage.ConnectorSAML, Config: raw, SecretSealed: tt.secret}
			if tt.typ != "" {
				c.Type = tt.typ
			}
			env := u.env()
			env.Dev = tt.dev
			conn, err := fsaml.Open(context.Background(), c, env)
			t.Log(err)
			if err == nil || conn != nil {
				t.Fatalf("Open = %v, %v; want an error", conn, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestOpenUnreachable: metadata that cannot be fetched at Open is fetched
// at the next login; until then Begin fails as an outage.
func TestOpenUnreachable(t *testing.T) {
	u := newUpstream(t)
	u.set(func(u *upstream) { u.metadataBody = "unavailable" })
	u.connect(false, nil)
	_, err := u.conn.Begin(context.Background(), "relay-1")
	var ref *federation.Refusal
	if err == nil || errors.As(err, &ref) {
		t.Fatalf("Begin = %v, want an outage", err)
	}
	u.set(func(u *upstream) { u.metadataBody = "" })
	start, a := u.login("relay-1")
	if _, err := u.finish(start.State, a.form); err != nil {
		t.Fatalf("Finish once the metadata is back: %v", err)
	}
}

// TestMetadataRefresh: metadata from a URL is fetched again once its
// cache time is over, and the new signing key is trusted then.
func TestMetadataRefresh(t *testing.T) {
	u := newUpstream(t)
	u.connect(false, nil)
	u.login("relay-1")
	u.login("relay-1")
	if n := u.fetches(); n != 1 {
		t.Fatalf("metadata fetched %d times, want 1", n)
	}
	// The IdP rolls over to another key.
	u.set(func(u *upstream) { u.idp.Key, u.idp.Certificate = keys.other, keys.otherCert })
	u.clock.Advance(25 * time.Hour)
	start, a := u.login("relay-1")
	if n := u.fetches(); n != 2 {
		t.Fatalf("metadata fetched %d times, want 2", n)
	}
	if _, err := u.finish(start.State, a.form); err != nil {
		t.Fatalf("Finish after the rollover: %v", err)
	}
}

// TestNewSPKey makes a usable SP key pair.
func TestNewSPKey(t *testing.T) {
	cert, err := parseCert(keys.spCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.Sub(t0) < 9*365*24*time.Hour || cert.NotBefore.After(t0) {
		t.Errorf("valid %s to %s, want from %s for about ten years", cert.NotBefore, cert.NotAfter, t0)
	}
	u := newUpstream(t)
	u.connect(true, nil) // Open checks that the key and certificate match
}
