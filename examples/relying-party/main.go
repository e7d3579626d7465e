// Command relying-party is a minimal web application that signs its users in
// with Gatehouse, for the README's quick start: the authorization code flow
// with PKCE, nonce and state (coreos/go-oidc + golang.org/x/oauth2), the ID
// token verified against Gatehouse's JWKS, userinfo, and RP-initiated
// logout.
//
//	go run ./examples/relying-party --client-id demo --client-secret-stdin
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type pending struct {
	verifier, nonce string
	at              time.Time
}

func main() {
	issuer := flag.String("issuer", "http://localhost:8080", "Gatehouse issuer URL")
	clientID := flag.String("client-id", "demo", "client id registered in Gatehouse")
	secretStdin := flag.Bool("client-secret-stdin", false, "read the client secret from standard input (omit for a public client)")
	listen := flag.String("listen", "127.0.0.1:5556", "address to listen on")
	base := flag.String("base-url", "http://localhost:5556", "this application's URL (its redirect URI is <base-url>/callback)")
	flag.Parse()

	secret := ""
	if *secretStdin {
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		secret = strings.TrimSpace(line)
	}
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		log.Fatalf("discovery at %s: %v", *issuer, err)
	}
	conf := oauth2.Config{ClientID: *clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: *base + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: *clientID})
	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	_ = provider.Claims(&endSession)

	var mu sync.Mutex
	flows := map[string]pending{} // state → what the callback must check

	http.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		_ = page.Execute(w, map[string]any{"Login": true})
	})
	http.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, v := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		mu.Lock()
		flows[state] = pending{verifier: v, nonce: nonce, at: time.Now()}
		mu.Unlock()
		http.Redirect(w, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v), oidc.Nonce(nonce)), http.StatusFound)
	})
	http.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		p, ok := flows[q.Get("state")]
		delete(flows, q.Get("state"))
		mu.Unlock()
		if e := q.Get("error"); e != "" {
			http.Error(w, "Gatehouse answered: "+e+": "+q.Get("error_description"), http.StatusBadRequest)
			return
		}
		if !ok || time.Since(p.at) > 10*time.Minute {
			http.Error(w, "unknown or expired state", http.StatusBadRequest)
			return
		}
		if q.Get("iss") != "" && q.Get("iss") != *issuer {
			http.Error(w, "response from another issuer", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.verifier))
		if err != nil {
			http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), rawID)
		if err != nil || idt.Nonce != p.nonce {
			http.Error(w, fmt.Sprintf("ID token rejected: %v", err), http.StatusBadGateway)
			return
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		ui, err := provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			http.Error(w, "userinfo: "+err.Error(), http.StatusBadGateway)
			return
		}
		pretty, _ := json.MarshalIndent(claims, "", "  ")
		logout := ""
		if endSession.URL != "" {
			logout = endSession.URL + "?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {*base + "/"},
				"state": {rand.Text()}}.Encode()
		}
		_ = page.Execute(w, map[string]any{"Email": ui.Email, "Claims": string(pretty), "Logout": logout})
	})
	log.Printf("relying party on %s (open %s/ in a browser)", *listen, *base)
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

var page = template.Must(template.New("p").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Demo app</title></head><body>
{{if .Login}}<h1>Demo app</h1><p><a href="/login">Sign in with Gatehouse</a></p>
{{else}}<h1>Signed in as {{.Email}}</h1><h2>ID token claims</h2><pre>{{.Claims}}</pre>
{{if .Logout}}<p><a href="{{.Logout}}">Sign out</a></p>{{end}}{{end}}
</body></html>`))
