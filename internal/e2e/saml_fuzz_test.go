package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/samlidp"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/internal/upstreamtest"
)

// FuzzSAMLRequest: whatever XML arrives as an AuthnRequest, over
// HTTP-Redirect or HTTP-POST, from a registered provider's issuer or not,
// the door answers below 500 and does not panic. The seeds are a real
// samlsp request and altered ones.
func FuzzSAMLRequest(f *testing.F) {
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	cfg, ln := newConfig(f, config.StorageSQLite)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	inst := startInstance(f, ctx, cfg, clk, logger, nil)
	serve(f, ctx, cancel, inst, ln, logger)
	resp, err := http.Get(cfg.Issuer + samlidp.PathMetadata)
	if err != nil {
		f.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sp := upstreamtest.NewSAMLSP(f, md, upstreamtest.SAMLSPOptions{})
	now := clk.Now()
	if err := inst.Store.CreateServiceProvider(ctx, storage.ServiceProvider{EntityID: sp.EntityID, Metadata: sp.Metadata(f),
		Source: "api", CreatedAt: now, UpdatedAt: now}); err != nil {
		f.Fatal(err)
	}
	sso := cfg.Issuer + samlidp.PathSSO
	valid := string(upstreamtest.RequestXML(f, sp.AuthnRequest(f, sso, nil)))
	for _, seed := range []string{
		valid,
		strings.Replace(valid, `Version="2.0"`, `Version="1.1"`, 1),
		strings.Replace(valid, sp.EntityID, "https://stranger.example/", 1),
		`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`,
		`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`,
		"", "\x00", "<", strings.Repeat("<a>", 5000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		// A new id each time, so that the valid seed is not a replay.
		doc = strings.Replace(doc, `ID="id-`, `ID="id-`+storage.NewID(), 1)
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, r := range []*http.Request{
			must(http.NewRequest(http.MethodGet, upstreamtest.RawRedirect(sso, []byte(doc), "rs"), nil)),
			postForm(sso, upstreamtest.Post([]byte(doc), "rs").Encode()),
		} {
			resp, err := hc.Do(r)
			if err != nil {
				t.Fatalf("%s: %v", r.Method, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s with %q: %d", r.Method, doc, resp.StatusCode)
			}
		}
	})
}

func must(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}

func postForm(u, body string) *http.Request {
	r := must(http.NewRequest(http.MethodPost, u, strings.NewReader(body)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}
