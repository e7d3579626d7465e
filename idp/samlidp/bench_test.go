package samlidp

import (
	"bytes"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// BenchmarkAssertionSign makes and signs one Response the way
// /saml/continue does (RSA-2048): the assertion signed, the Response
// signed too when the provider asks, or the assertion encrypted
// (AES-256-GCM, RSA-OAEP) to the provider's certificate. An op starts
// from the stored provider (its metadata parsed, as rebuild does) and
// ends with the Response's bytes; storage and HTTP are not in it.
//
//	go test -run '^$' -bench AssertionSign -cpu 1 -count 6 ./idp/samlidp/
func BenchmarkAssertionSign(b *testing.B) {
	for _, c := range []struct {
		name     string
		settings storage.SPSettings
	}{
		{"assertion", storage.SPSettings{NameIDFormats: []string{"emailAddress"}}},
		{"assertion+response", storage.SPSettings{NameIDFormats: []string{"emailAddress"}, SignResponse: true}},
		{"encrypted", storage.SPSettings{NameIDFormats: []string{"emailAddress"}, EncryptAssertions: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := testProvider(b, goldenNow)
			gc := goldenCase{requestID: "id-bench", amr: []string{"pwd"}, format: "emailAddress", settings: c.settings}
			// The provider's stored record is read from testdata once:
			// loading and parsing its key is no part of an op.
			sp, _ := goldenSP(b, c.settings)
			out := respondTo(b, p, gc, sp)
			if enc := bytes.Contains(out, []byte("EncryptedAssertion")); enc != c.settings.EncryptAssertions {
				b.Fatalf("encrypted %v, want %v", enc, c.settings.EncryptAssertions)
			}
			b.ReportAllocs()
			for b.Loop() {
				respondTo(b, p, gc, sp)
			}
		})
	}
}
