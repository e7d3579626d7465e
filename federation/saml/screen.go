package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse-idp/gatehouse/federation"
)

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
)

var errDirective = errors.New("a DTD or other <! directive is not allowed")

// screen refuses, before crewjam parses it, a Response that is not well
// formed XML, has a DTD (the XXE and entity-expansion family: Go expands
// no entities, but nothing legitimate sends one), is not a samlp:Response,
// holds more than one Assertion or EncryptedAssertion anywhere (signature
// wrapping hides a signed assertion beside, before or under a forged one;
// crewjam reads the signed element, and refuses several in an unsigned
// Response, but we take exactly one in any case), or has an assertion
// in the clear with neither it nor the Response signed.
func screen(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw)) // Strict: an undeclared entity is an error
	var (
		depth, inAssertion                   int // inAssertion: depth of the open assertion, 0 none
		assertions                           int
		encrypted, signedResp, signedAsserts bool
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return federation.Refuse("malformed", fmt.Errorf("xml: %w", err))
		}
		switch t := tok.(type) {
		case xml.Directive:
			return federation.Refuse("malformed", errDirective)
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name != xml.Name{Space: nsProtocol, Local: "Response"}:
				return federation.Refuse("malformed", fmt.Errorf("root element is {%s}%s, not a samlp:Response", t.Name.Space, t.Name.Local))
			case t.Name.Space == nsAssertion && (t.Name.Local == "Assertion" || t.Name.Local == "EncryptedAssertion"):
				assertions++
				encrypted = encrypted || t.Name.Local == "EncryptedAssertion"
				if inAssertion == 0 {
					inAssertion = depth
				}
			case t.Name == xml.Name{Space: nsDSig, Local: "Signature"}:
				signedResp = signedResp || depth == 2
				signedAsserts = signedAsserts || (inAssertion > 0 && depth == inAssertion+1)
			}
		case xml.EndElement:
			if depth == inAssertion {
				inAssertion = 0
			}
			depth--
		}
	}
	switch {
	case assertions > 1:
		return federation.Refuse("malformed", fmt.Errorf("%d assertions in one Response (one is taken)", assertions))
	case assertions == 1 && !encrypted && !signedResp && !signedAsserts:
		return federation.Refuse("unsigned", errors.New("neither the Response nor its assertion is signed"))
	}
	return nil
}

// refuseDirectives refuses XML with a DTD or other directive, or that is
// not well formed.
func refuseDirectives(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
		if _, ok := tok.(xml.Directive); ok {
			return errDirective
		}
	}
}
