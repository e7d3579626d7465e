package samlidp

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-idp/gatehouse/idp/samlidp/spmeta"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The HTTP-Redirect and HTTP-POST bindings for the messages the library
// has no exported code for: the LogoutRequests we send and the
// LogoutResponses we get back (saml-bindings-2.0-os §3.4, §3.5).

// maxInflated bounds an inflated Redirect message we verify.
const maxInflated = 256 << 10

// signingContext signs with the IdP's key, RSA-SHA256 and exclusive
// canonicalisation, as the library does for assertions.
func signingContext(idp *saml.IdentityProvider) (*dsig.SigningContext, error) {
	key, ok := idp.Key.(*rsa.PrivateKey)
	if !ok || key == nil || idp.Certificate == nil {
		return nil, errors.New("samlidp: no signing key")
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{idp.Certificate.Raw}, PrivateKey: key, Leaf: idp.Certificate}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, err
	}
	return ctx, nil
}

// signedRedirect is location with el as the HTTP-Redirect binding's param
// (SAMLRequest or SAMLResponse): deflated, base64, with RelayState and the
// query-string signature (§3.4.4.1).
func signedRedirect(idp *saml.IdentityProvider, location, param string, el *etree.Element, relayState string) (string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return "", err
	}
	if _, err := fw.Write(raw); err != nil {
		return "", err
	}
	if err := fw.Close(); err != nil {
		return "", err
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	key, ok := idp.Key.(*rsa.PrivateKey)
	if !ok {
		return "", errors.New("samlidp: no signing key")
	}
	sum := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("samlidp: sign redirect: %w", err)
	}
	q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	sep := "?"
	if strings.Contains(location, "?") {
		sep = "&"
	}
	return location + sep + q, nil
}

// verifyLogoutResponse checks a provider's LogoutResponse to the request
// we sent it: signed by its key (query signature or enveloped), from it,
// to us, in response to that request, and current.
func (p *Provider) verifyLogoutResponse(r *http.Request, cur *sentRequest) (*saml.LogoutResponse, error) {
	sp, err := p.opts.Store.GetServiceProvider(r.Context(), cur.EntityID)
	if err != nil {
		return nil, err
	}
	certs, err := signingCerts(sp)
	if err != nil {
		return nil, err
	}
	var doc []byte
	if r.Method == http.MethodGet {
		doc, err = verifyRedirect(r.URL.RawQuery, "SAMLResponse", certs)
	} else {
		doc, err = p.verifyPost(r.PostForm.Get("SAMLResponse"), certs)
	}
	if err != nil {
		return nil, err
	}
	var resp saml.LogoutResponse
	if err := xml.Unmarshal(doc, &resp); err != nil {
		return nil, fmt.Errorf("samlidp: logout response: %w", err)
	}
	now := p.now()
	switch {
	case resp.Issuer == nil || resp.Issuer.Value != cur.EntityID:
		return nil, fmt.Errorf("samlidp: logout response not issued by %q", cur.EntityID)
	case resp.InResponseTo != cur.RequestID:
		return nil, fmt.Errorf("samlidp: logout response to %q, not %q", resp.InResponseTo, cur.RequestID)
	case resp.Destination != p.sloURL.String():
		return nil, fmt.Errorf("samlidp: logout response for %q", resp.Destination)
	case resp.IssueInstant.Add(saml.MaxIssueDelay).Before(now), resp.IssueInstant.Add(-saml.MaxClockSkew).After(now):
		return nil, fmt.Errorf("samlidp: logout response issued at %s", resp.IssueInstant)
	}
	return &resp, nil
}

// verifyRedirect checks the query-string signature of an HTTP-Redirect
// message and returns its inflated XML. The signed octets are the raw,
// still URL-encoded parameters as they arrived (§3.4.4.1).
func verifyRedirect(rawQuery, param string, certs []*x509.Certificate) ([]byte, error) {
	raw := map[string]string{}
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case param, "RelayState", "SigAlg", "Signature":
			if _, dup := raw[k]; dup {
				return nil, fmt.Errorf("samlidp: %s given twice", k)
			}
			raw[k] = v
		}
	}
	if raw[param] == "" || raw["Signature"] == "" {
		return nil, errors.New("samlidp: redirect message is not signed")
	}
	alg, err := url.QueryUnescape(raw["SigAlg"])
	if err != nil || alg != dsig.RSASHA256SignatureMethod {
		return nil, fmt.Errorf("samlidp: signature algorithm %q refused", alg)
	}
	signed := param + "=" + raw[param]
	if rs, ok := raw["RelayState"]; ok {
		signed += "&RelayState=" + rs
	}
	signed += "&SigAlg=" + raw["SigAlg"]
	sigText, err := url.QueryUnescape(raw["Signature"])
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return nil, fmt.Errorf("samlidp: signature: %w", err)
	}
	sum := sha256.Sum256([]byte(signed))
	verified := false
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, errors.New("samlidp: redirect signature does not verify")
	}
	msgText, err := url.QueryUnescape(raw[param])
	if err != nil {
		return nil, err
	}
	compressed, err := base64.StdEncoding.DecodeString(msgText)
	if err != nil {
		return nil, fmt.Errorf("samlidp: message: %w", err)
	}
	doc, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(compressed)), maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("samlidp: inflate: %w", err)
	}
	if len(doc) > maxInflated {
		return nil, errors.New("samlidp: message too large")
	}
	return doc, checkXML(doc)
}

// verifyPost checks the enveloped signature of an HTTP-POST message and
// returns the XML the signature covers.
func (p *Provider) verifyPost(field string, certs []*x509.Certificate) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(field)
	if err != nil {
		return nil, fmt.Errorf("samlidp: message: %w", err)
	}
	if err := checkXML(raw); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return nil, fmt.Errorf("samlidp: message: %v", err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: certs})
	vc.IdAttribute = "ID"
	vc.Clock = dsig.NewFakeClockAt(p.now())
	el, err := vc.Validate(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("samlidp: signature: %w", err)
	}
	out := etree.NewDocument()
	out.SetRoot(el)
	return out.WriteToBytes()
}

// checkXML refuses document type declarations (entity expansion, XXE):
// no SAML message has one.
func checkXML(doc []byte) error {
	if bytes.Contains(bytes.ToUpper(doc), []byte("<!DOCTYPE")) || bytes.Contains(doc, []byte("<!ENTITY")) {
		return errors.New("samlidp: message has a document type declaration")
	}
	return nil
}

// signingCerts are a provider's signing certificates from its metadata.
func signingCerts(sp storage.ServiceProvider) ([]*x509.Certificate, error) {
	ed, err := parseEntity(sp.Metadata)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, d := range ed.SPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
				if c, err := spmeta.ParseCert(xc.Data); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("samlidp: %q has no signing certificate", sp.EntityID)
	}
	return out, nil
}
