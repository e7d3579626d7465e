package saml_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/beevik/etree"
)

// Helpers that build forged Responses from a genuine one, as an attacker
// holding one would.

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

func parseXML(t *testing.T, raw []byte) *etree.Document {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc
}

func serialize(t *testing.T, doc *etree.Document) []byte {
	t.Helper()
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// child is el's first child element ns:tag, or nil.
func child(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// removeSignature removes el's own ds:Signature.
func removeSignature(el *etree.Element) {
	if sig := child(el, nsDSig, "Signature"); sig != nil {
		el.RemoveChild(sig)
	}
}

// assertionOf is the Response's assertion.
func assertionOf(t *testing.T, doc *etree.Document) *etree.Element {
	t.Helper()
	a := child(doc.Root(), nsAssertion, "Assertion")
	if a == nil {
		t.Fatal("the Response has no assertion in the clear")
	}
	return a
}

// forgedCopy is an unsigned copy of the assertion a, for another subject.
func forgedCopy(t *testing.T, a *etree.Element) *etree.Element {
	t.Helper()
	f := a.Copy()
	removeSignature(f)
	f.CreateAttr("ID", "id-forged")
	setNameID(t, f, "attacker")
	return f
}

func setNameID(t *testing.T, a *etree.Element, value string) {
	t.Helper()
	subject := child(a, nsAssertion, "Subject")
	if subject == nil || child(subject, nsAssertion, "NameID") == nil {
		t.Fatal("the assertion has no NameID")
	}
	child(subject, nsAssertion, "NameID").SetText(value)
}

// removeKeyInfo removes the KeyInfo of every signature in el (it is not
// signed: the signature stays valid for its key).
func removeKeyInfo(el *etree.Element) int {
	n := 0
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == nsDSig {
			if ki := child(c, nsDSig, "KeyInfo"); ki != nil {
				c.RemoveChild(ki)
				n++
			}
			continue
		}
		n += removeKeyInfo(c)
	}
	return n
}

func parseCert(s string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM")
	}
	return x509.ParseCertificate(b.Bytes)
}
