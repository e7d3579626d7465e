package keys

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
)

// benchManager uses the real clock and the default durations, as serve
// does.
func benchManager(b *testing.B) *Manager {
	b.Helper()
	m := &Manager{Store: newStore(b), Sealer: masterKey(b, 1), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Ensure(context.Background()); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkSigner is the token endpoint's key lookup: served from memory.
func BenchmarkSigner(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Signer(ctx, RS256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignerParallel(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Signer(ctx, ES256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPublicKeys(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.PublicKeys(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign signs a 300-byte JWS signing input (a typical ID token's
// header and payload) with each algorithm.
func BenchmarkSign(b *testing.B) {
	m := benchManager(b)
	payload := bytes.Repeat([]byte("a"), 300)
	for _, alg := range Algorithms() {
		b.Run(alg, func(b *testing.B) {
			s, err := m.Signer(context.Background(), alg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	m := benchManager(b)
	ctx := context.Background()
	payload := bytes.Repeat([]byte("a"), 300)
	for _, alg := range Algorithms() {
		b.Run(alg, func(b *testing.B) {
			s, err := m.Signer(ctx, alg)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := s.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			pubs, err := m.PublicKeys(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var pub PublicKey
			for _, p := range pubs {
				if p.ID == s.ID {
					pub = p
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := pub.Verify(payload, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSAMLSigner is the SAML front door's key lookup: served from
// memory, as serve configures it.
func BenchmarkSAMLSigner(b *testing.B) {
	m := &SAMLManager{Store: newStore(b), Sealer: masterKey(b, 1), Issuer: "https://id.example.com",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	if err := m.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Signer(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
