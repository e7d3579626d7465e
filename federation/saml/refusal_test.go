package saml_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/federation"
)

// TestRefusals covers SECURITY-TESTS "Upstream SAML": every answer that
// proves nothing is a *federation.Refusal with its reason.
func TestRefusals(t *testing.T) {
	// forge logs in, rewrites the genuine Response with edit and finishes.
	forge := func(edit func(t *testing.T, doc *etree.Document)) func(t *testing.T, u *upstream) error {
		return func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			doc := parseXML(t, a.responseXML(t))
			edit(t, doc)
			_, err := u.finish(start.State, a.with(serialize(t, doc)))
			return err
		}
	}
	// tampered logs in with the IdP changing its assertion before signing.
	tampered := func(fn func(a *crewjam.Assertion)) func(t *testing.T, u *upstream) error {
		return func(t *testing.T, u *upstream) error {
			u.set(func(u *upstream) { u.tamper = fn })
			start, a := u.login("relay-1")
			_, err := u.finish(start.State, a.form)
			return err
		}
	}
	// raw logs in and finishes with the Response text rewritten by edit.
	raw := func(edit func(s string) string) func(t *testing.T, u *upstream) error {
		return func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			_, err := u.finish(start.State, a.with([]byte(edit(string(a.responseXML(t))))))
			return err
		}
	}
	// form logs in and finishes with the form changed by edit.
	form := func(edit func(f url.Values)) func(t *testing.T, u *upstream) error {
		return func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			edit(a.form)
			_, err := u.finish(start.State, a.form)
			return err
		}
	}
	impostor := func(stripKeyInfo bool) func(t *testing.T, u *upstream) error {
		return func(t *testing.T, u *upstream) error {
			u.set(func(u *upstream) { u.useImpostor = true })
			start, a := u.login("relay-1")
			resp := a.responseXML(t)
			if !bytes.Contains(resp, []byte(base64.StdEncoding.EncodeToString(keys.otherCert.Raw))) {
				t.Fatal("the impostor's certificate is not in its KeyInfo")
			}
			if stripKeyInfo {
				doc := parseXML(t, resp)
				if n := removeKeyInfo(doc.Root()); n != 2 {
					t.Fatalf("removed %d KeyInfo, want 2", n)
				}
				resp = serialize(t, doc)
			}
			_, err := u.finish(start.State, a.with(resp))
			return err
		}
	}
	const doctype = `<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`
	const laughs = `<!DOCTYPE samlp:Response [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>`

	tests := []struct {
		name   string
		run    func(t *testing.T, u *upstream) error
		reason string
	}{
		{"unsigned response and assertion", forge(func(t *testing.T, doc *etree.Document) {
			removeSignature(doc.Root())
			removeSignature(assertionOf(t, doc))
		}), "unsigned"},
		{"signed by another key, its certificate in KeyInfo", impostor(false), "signature"},
		{"signed by another key, no KeyInfo", impostor(true), "signature"},
		{"signed with RSA-SHA1", func(t *testing.T, u *upstream) error {
			u.set(func(u *upstream) { u.idp.SignatureMethod = dsig.RSASHA1SignatureMethod })
			start, a := u.login("relay-1")
			_, err := u.finish(start.State, a.form)
			return err
		}, "signature"},
		{"tampered NameID in the signed assertion", forge(func(t *testing.T, doc *etree.Document) {
			removeSignature(doc.Root())
			setNameID(t, assertionOf(t, doc), "attacker")
		}), "signature"},
		{"wrapping: forged assertion after the signed one", forge(func(t *testing.T, doc *etree.Document) {
			removeSignature(doc.Root())
			doc.Root().AddChild(forgedCopy(t, assertionOf(t, doc)))
		}), "malformed"},
		{"wrapping: forged assertion before the signed one", forge(func(t *testing.T, doc *etree.Document) {
			removeSignature(doc.Root())
			a := assertionOf(t, doc)
			doc.Root().InsertChildAt(a.Index(), forgedCopy(t, a))
		}), "malformed"},
		{"wrapping: signed assertion hidden in Extensions", forge(func(t *testing.T, doc *etree.Document) {
			removeSignature(doc.Root())
			a := assertionOf(t, doc)
			forged := forgedCopy(t, a)
			doc.Root().RemoveChild(a)
			ext := doc.Root().CreateElement("samlp:Extensions")
			ext.AddChild(a)
			doc.Root().AddChild(forged)
		}), "malformed"},
		{"wrapping: forged assertion in a signed Response", forge(func(t *testing.T, doc *etree.Document) {
			doc.Root().AddChild(forgedCopy(t, assertionOf(t, doc)))
		}), "malformed"},
		{"wrong Audience", tampered(func(a *crewjam.Assertion) {
			a.Conditions.AudienceRestrictions = []crewjam.AudienceRestriction{{Audience: crewjam.Audience{Value: "https://other.example/sp"}}}
		}), "audience"},
		{"no Audience", tampered(func(a *crewjam.Assertion) { a.Conditions.AudienceRestrictions = nil }), "audience"},
		{"wrong Destination", func(t *testing.T, u *upstream) error {
			u.set(func(u *upstream) { u.destination = "https://other.example/acs" })
			start, a := u.login("relay-1")
			_, err := u.finish(start.State, a.form)
			return err
		}, "destination"},
		{"wrong Recipient", tampered(func(a *crewjam.Assertion) {
			a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://other.example/acs"
		}), "destination"},
		{"wrong InResponseTo in the assertion", tampered(func(a *crewjam.Assertion) {
			a.Subject.SubjectConfirmations[0].SubjectConfirmationData.InResponseTo = "id-other"
		}), "in_response_to"},
		{"the answer to another login", func(t *testing.T, u *upstream) error {
			_, a := u.login("relay-1")
			other, _ := u.login("relay-1")
			_, err := u.finish(other.State, a.form)
			return err
		}, "in_response_to"},
		{"unsolicited (IdP-initiated)", func(t *testing.T, u *upstream) error {
			start, err := u.conn.Begin(t.Context(), "relay-1")
			if err != nil {
				t.Fatal(err)
			}
			a := u.unsolicited("relay-1")
			_, err = u.finish(start.State, a.form)
			return err
		}, "in_response_to"},
		{"expired: the clock moved 10 minutes on", func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			u.clock.Advance(10 * time.Minute)
			_, err := u.finish(start.State, a.form)
			return err
		}, "expired"},
		{"expired: Conditions NotOnOrAfter passed", tampered(func(a *crewjam.Assertion) {
			a.Conditions.NotOnOrAfter = t0.Add(-5 * time.Minute)
		}), "expired"},
		{"expired: SubjectConfirmationData NotOnOrAfter passed", tampered(func(a *crewjam.Assertion) {
			a.Subject.SubjectConfirmations[0].SubjectConfirmationData.NotOnOrAfter = t0.Add(-5 * time.Minute)
		}), "expired"},
		{"not yet valid", tampered(func(a *crewjam.Assertion) {
			a.Conditions.NotBefore = t0.Add(10 * time.Minute)
		}), "expired"},
		{"the login began over 30 minutes ago", func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			u.clock.Advance(31 * time.Minute)
			_, err := u.finish(start.State, a.form)
			if err == nil || !strings.Contains(err.Error(), "login began") {
				t.Errorf("err = %v, want the login's age refused", err)
			}
			return err
		}, "expired"},
		{"replayed Response", func(t *testing.T, u *upstream) error {
			start, a := u.login("relay-1")
			if _, err := u.finish(start.State, a.form); err != nil {
				t.Fatalf("first Finish: %v", err)
			}
			_, err := u.finish(start.State, a.form)
			return err
		}, "replay"},
		{"wrong Issuer", tampered(func(a *crewjam.Assertion) { a.Issuer.Value = "https://other.example/idp" }), "issuer"},
		{"the IdP said no", func(t *testing.T, u *upstream) error {
			u.set(func(u *upstream) {
				u.statusErr = &crewjam.StatusError{TopLevel: crewjam.StatusResponder, SecondLevel: crewjam.StatusRequestDenied}
			})
			start, a := u.login("relay-1")
			_, err := u.finish(start.State, a.form)
			return err
		}, "upstream_error"},
		{"DTD with an external entity", raw(func(s string) string { return doctype + s }), "malformed"},
		{"DTD with an external entity used", raw(func(s string) string {
			return doctype + strings.Replace(s, ">u-1234<", ">&xxe;<", 1)
		}), "malformed"},
		{"entity expansion (billion laughs)", raw(func(s string) string {
			return laughs + strings.Replace(s, ">u-1234<", ">&c;<", 1)
		}), "malformed"},
		{"not XML", raw(func(string) string { return "<samlp:Response" }), "malformed"},
		{"not a Response", raw(func(string) string { return `<x xmlns="urn:x"/>` }), "malformed"},
		{"not base64", form(func(f url.Values) { f.Set("SAMLResponse", "%%%") }), "malformed"},
		{"two SAMLResponse fields", form(func(f url.Values) { f.Add("SAMLResponse", f.Get("SAMLResponse")) }), "malformed"},
		{"no SAMLResponse", form(func(f url.Values) { f.Del("SAMLResponse") }), "malformed"},
		{"wrong RelayState", form(func(f url.Values) { f.Set("RelayState", "relay-2") }), "relay_state"},
		{"no RelayState", form(func(f url.Values) { f.Del("RelayState") }), "relay_state"},
		{"two RelayState fields", form(func(f url.Values) { f.Add("RelayState", "relay-1") }), "relay_state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			u.connect(false, nil)
			err := tt.run(t, u)
			t.Log(err)
			wantRefusal(t, err, tt.reason)
		})
	}
}

// TestUnsignedEncryptedAssertion: an assertion encrypted to the SP but
// signed by no one, in an unsigned Response, is refused (crewjam finds it
// after decrypting).
func TestUnsignedEncryptedAssertion(t *testing.T) {
	u := newUpstream(t)
	u.connect(true, nil)
	start, a := u.login("relay-1")
	doc := parseXML(t, a.responseXML(t))
	removeSignature(doc.Root())
	encAssertion := child(doc.Root(), nsAssertion, "EncryptedAssertion")
	if encAssertion == nil {
		t.Fatal("no EncryptedAssertion")
	}
	encData := encAssertion.ChildElements()[0]
	spKey, err := x509.ParsePKCS8PrivateKey(keys.spKeyDER)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := xmlenc.Decrypt(spKey, encData)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	assertion := parseXML(t, plain)
	removeSignature(assertion.Root())
	setNameID(t, assertion.Root(), "attacker")
	spCert, err := parseCert(keys.spCertPEM)
	if err != nil {
		t.Fatal(err)
	}
	enc := xmlenc.OAEP()
	enc.BlockCipher = xmlenc.AES256GCM
	forged, err := enc.Encrypt(spCert, serialize(t, assertion), nil)
	if err != nil {
		t.Fatal(err)
	}
	forged.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	encAssertion.RemoveChild(encData)
	encAssertion.AddChild(forged)
	_, err = u.finish(start.State, a.with(serialize(t, doc)))
	t.Log(err)
	wantRefusal(t, err, "unsigned")
}

// TestPinnedCertificate: a key the metadata lists is trusted without a
// pin, and only the pinned certificate with one.
func TestPinnedCertificate(t *testing.T) {
	for _, pin := range []bool{false, true} {
		u := newUpstream(t)
		u.idp.ExtraCertificates = append(u.idp.ExtraCertificates, keys.otherCert)
		u.connect(false, func(s *federation.SAMLSettings) {
			if pin {
				s.Certificate = certPEM(keys.idpCert)
			}
		})
		u.set(func(u *upstream) { u.useImpostor = true })
		start, a := u.login("relay-1")
		_, err := u.finish(start.State, a.form)
		switch {
		case pin:
			wantRefusal(t, err, "signature")
		case err != nil:
			t.Errorf("without a pin, a key the metadata lists: %v", err)
		}
	}
}

// TestReplayCacheOutage: a replay cache that cannot answer is an outage,
// not a refusal.
func TestReplayCacheOutage(t *testing.T) {
	u := newUpstream(t)
	u.connect(false, nil)
	u.store.fail = errors.New("database is down")
	start, a := u.login("relay-1")
	_, err := u.finish(start.State, a.form)
	var ref *federation.Refusal
	if err == nil || errors.As(err, &ref) || !errors.Is(err, u.store.fail) {
		t.Fatalf("err = %v, want the store's error, not a refusal", err)
	}
}

// TestBeginNeedsRelay: a login without a relay binds nothing.
func TestBeginNeedsRelay(t *testing.T) {
	u := newUpstream(t)
	u.connect(false, nil)
	if _, err := u.conn.Begin(t.Context(), ""); err == nil {
		t.Fatal("Begin with an empty relay succeeded")
	}
}

// TestBadState: a state Begin did not make is an error, not a refusal.
func TestBadState(t *testing.T) {
	u := newUpstream(t)
	u.connect(false, nil)
	_, a := u.login("relay-1")
	for _, state := range []string{"", "{}", "not json"} {
		_, err := u.finish([]byte(state), a.form)
		var ref *federation.Refusal
		if err == nil || errors.As(err, &ref) {
			t.Errorf("state %q: err = %v, want an error", state, err)
		}
	}
}
