package clients

import (
	"strings"
	"testing"
)

// TestInitiateLoginURI: an absolute https URL or nothing (OpenID Connect
// Core §4).
func TestInitiateLoginURI(t *testing.T) {
	base := Input{ID: "web", RedirectURIs: []string{"https://app.example/cb"}, Secret: strings.Repeat("s", MinSecretLen)}
	for uri, ok := range map[string]bool{
		"": true, "https://app.example/login": true,
		"http://app.example/login": false, "javascript:alert(1)": false, "/login": false,
		"https://user@app.example/": false, "https://app.example/" + strings.Repeat("a", 2048): false,
	} {
		in := base
		in.InitiateLoginURI = uri
		c, err := in.Client()
		if ok && (err != nil || c.InitiateLoginURI != uri) {
			t.Errorf("%q refused: %v", uri, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "initiate_login_uri")) {
			t.Errorf("%q: %v", uri, err)
		}
	}
}
