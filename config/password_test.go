package config

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// TestPasswordPolicySettings: the server-wide policy defaults, set from the
// file and from the environment, and every bound reported by its key.
func TestPasswordPolicySettings(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		yaml string
		env  []string
		want password.Policy
		url  string
		errs []string // each in the error; nil means valid
	}{
		{name: "defaults: min length 8, everything else off", yaml: minimal,
			want: password.Policy{MinLength: 8}, url: "https://api.pwnedpasswords.com"},
		{name: "from the file", yaml: minimal + `password:
  min_length: 12
  max_age: 2160h
  min_age: 24h
  breach_check:
    enabled: true
    url: https://pwned.internal.example/api
    timeout: 500ms
`, want: password.Policy{MinLength: 12, BreachCheck: true, MaxAge: 90 * day, MinAge: day}, url: "https://pwned.internal.example/api"},
		{name: "from the environment", yaml: minimal, env: []string{
			"GATEHOUSE_PASSWORD_MIN_LENGTH=1024", "GATEHOUSE_PASSWORD_MAX_AGE=8760h", "GATEHOUSE_PASSWORD_MIN_AGE=1h",
			"GATEHOUSE_PASSWORD_BREACH_CHECK_ENABLED=true", "GATEHOUSE_PASSWORD_BREACH_CHECK_URL=http://127.0.0.1:9999",
			"GATEHOUSE_PASSWORD_BREACH_CHECK_TIMEOUT=3s",
		}, want: password.Policy{MinLength: 1024, BreachCheck: true, MaxAge: 365 * day, MinAge: time.Hour}, url: "http://127.0.0.1:9999"},
		{name: "every bound", yaml: minimal + `password:
  min_length: 1025
  max_age: 1h
  min_age: 1000h
  breach_check:
    url: http://pwned.example
    timeout: 0s
`, errs: []string{
			"password.min_length: must be between 8 and 1024, got 1025",
			"password.max_age: must be 0 (passwords do not expire) or between 1d and 3650d, got 1h",
			"password.min_age: must be 0 (no minimum age) or between 1h and 30d, got 1000h",
			`password.breach_check.url: "http://pwned.example" must use https`,
			"password.breach_check.timeout: must be greater than 0, got 0s",
		}},
		{name: "min age not below max age", yaml: minimal + "password:\n  max_age: 48h\n  min_age: 48h\n",
			errs: []string{"password.min_age: must be shorter than max_age (2d), got 2d"}},
		{name: "bad url and a slow timeout", yaml: minimal + "password:\n  breach_check:\n    url: api.pwnedpasswords.com\n    timeout: 1m\n",
			errs: []string{`password.breach_check.url: "api.pwnedpasswords.com" must be an absolute https URL`,
				"password.breach_check.timeout: must be at most 30s, got 1m0s"}},
		{name: "bad env duration", yaml: minimal, env: []string{"GATEHOUSE_PASSWORD_MAX_AGE=90d"},
			errs: []string{`GATEHOUSE_PASSWORD_MAX_AGE: "90d" is not a duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			if tt.errs != nil {
				if err == nil {
					t.Fatal("Load succeeded; want errors")
				}
				for _, w := range tt.errs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q; got:\n%s", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Password.Policy(); got != tt.want {
				t.Errorf("Policy() = %+v; want %+v", got, tt.want)
			}
			if c.Password.BreachCheck.URL != tt.url {
				t.Errorf("breach_check.url = %q; want %q", c.Password.BreachCheck.URL, tt.url)
			}
		})
	}
}
