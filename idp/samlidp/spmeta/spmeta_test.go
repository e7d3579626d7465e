package spmeta

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

var now = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func cert(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) { return upstreamtest.SPKey(t) }

func spMetadata(t *testing.T, key *rsa.PrivateKey, c *x509.Certificate, base string, edit func(*saml.EntityDescriptor)) []byte {
	return upstreamtest.SPMetadata(t, key, c, base, now.Add(48*time.Hour), edit)
}

func sign(t *testing.T, key *rsa.PrivateKey, c *x509.Certificate, doc []byte) []byte {
	return upstreamtest.SignMetadata(t, key, c, doc)
}

func TestCheck(t *testing.T) {
	key, c := cert(t)
	otherKey, other := cert(t)
	good := spMetadata(t, key, c, "https://app.example", nil)
	signedDoc := sign(t, key, c, good)
	for _, tc := range []struct {
		name    string
		raw     []byte
		trusted *x509.Certificate
		want    string // "" : accepted
	}{
		{"unsigned", good, nil, ""},
		{"loopback http", spMetadata(t, key, c, "http://127.0.0.1:8080", nil), nil, ""},
		{"plain http ACS", spMetadata(t, key, c, "http://app.example", nil), nil, "use https"},
		{"empty", []byte("  "), nil, "empty"},
		{"too large", bytes.Repeat([]byte("a"), MaxSize+1), nil, "larger than"},
		{"not XML", []byte("<nope"), nil, "not XML"},
		{"DTD", append([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]>`), good...), nil, "document type declaration"},
		{"expired", spMetadata(t, key, c, "https://app.example", func(ed *saml.EntityDescriptor) { ed.ValidUntil = now.Add(-time.Minute) }), nil, "expired"},
		{"no SP", spMetadata(t, key, c, "https://app.example", func(ed *saml.EntityDescriptor) { ed.SPSSODescriptors = nil }), nil, "want one SPSSODescriptor"},
		{"no POST ACS", spMetadata(t, key, c, "https://app.example", func(ed *saml.EntityDescriptor) {
			ed.SPSSODescriptors[0].AssertionConsumerServices = nil
		}), nil, "no AssertionConsumerService"},
		{"no entity id", spMetadata(t, key, c, "https://app.example", func(ed *saml.EntityDescriptor) { ed.EntityID = "" }), nil, "entityID"},
		{"an IdP's metadata", []byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:EntityDescriptor entityID="x"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor></md:EntitiesDescriptor>`), nil, "no service provider"},
		{"signed", signedDoc, nil, ""},
		{"signed, pinned", signedDoc, c, ""},
		{"signed by another than the pinned", signedDoc, other, "signature"},
		{"unsigned where one is pinned", good, c, "not signed"},
		{"altered after signing", bytes.Replace(signedDoc, []byte("https://app.example/saml/acs"), []byte("https://evil.example/saml/acs"), 1), nil, "signature"},
		{"signed by another key, naming ours", sign(t, otherKey, c, good), nil, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Check(tc.raw, tc.trusted, now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			case err != nil:
				return
			}
			if m.EntityID == "" || len(m.ACS) != 1 || !m.SLO || m.SigningCerts != 1 || !m.EncryptionCert {
				t.Errorf("metadata: entity %q ACS %v SLO %v signing %d encryption %v", m.EntityID, m.ACS, m.SLO, m.SigningCerts, m.EncryptionCert)
			}
			if bytes.Contains(m.Document, []byte("Signature")) {
				t.Error("the stored document keeps the signature")
			}
			if again, err := Check(m.Document, nil, now); err != nil || again.EntityID != m.EntityID {
				t.Errorf("the stored document does not check again: %v", err)
			}
			if strings.HasPrefix(tc.name, "signed") && (m.Signer == nil || !m.Signer.Equal(c)) {
				t.Errorf("signer %v", m.Signer)
			}
		})
	}
}

func TestCheckEntitiesDescriptor(t *testing.T) {
	key, c := cert(t)
	one := spMetadata(t, key, c, "https://app.example", nil)
	wrap := func(inner ...[]byte) []byte {
		return []byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` + string(bytes.Join(inner, nil)) + `</md:EntitiesDescriptor>`)
	}
	if m, err := Check(wrap(one), nil, now); err != nil || m.EntityID != "https://app.example/saml/metadata" {
		t.Fatalf("one SP in an aggregate: %+v %v", m, err)
	}
	two := spMetadata(t, key, c, "https://other.example", nil)
	if _, err := Check(wrap(one, two), nil, now); err == nil || !strings.Contains(err.Error(), "several") {
		t.Fatalf("two SPs: %v", err)
	}
}

func TestFetch(t *testing.T) {
	key, c := cert(t)
	doc := spMetadata(t, key, c, "https://app.example", nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/md", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(doc) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(bytes.Repeat([]byte(" "), MaxSize+10)) })
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://app.example/md", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	if got, err := Fetch(ctx, nil, srv.URL+"/md"); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("fetch: %v", err)
	}
	for path, want := range map[string]string{"/big": "larger than", "/gone": "404", "/away": "use https"} {
		if _, err := Fetch(ctx, nil, srv.URL+path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if _, err := Fetch(ctx, nil, "http://app.example/md"); err == nil || !strings.Contains(err.Error(), "use https") {
		t.Errorf("plain http: %v", err)
	}
}

func TestCertRoundTrip(t *testing.T) {
	_, c := cert(t)
	got, err := DecodeCert(EncodeCert(c))
	if err != nil || !got.Equal(c) {
		t.Fatalf("%v", err)
	}
	if got, err := DecodeCert(""); got != nil || err != nil {
		t.Fatal("empty")
	}
	if _, err := DecodeCert("junk"); err == nil {
		t.Fatal("junk accepted")
	}
}
