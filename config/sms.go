package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/phone"
)

// SMS providers (sms.provider).
const (
	// SMSProviderTwilio sends through Twilio's Messages API.
	SMSProviderTwilio = "twilio"
	// SMSProviderWebhook POSTs each message as JSON to sms.webhook.url, for
	// any gateway an operator fronts with a small adapter.
	SMSProviderWebhook = "webhook"
	// SMSProviderDev writes each message to the log and <data_dir>/sms/.
	// It is allowed only in dev mode: it puts codes in the log.
	SMSProviderDev = "dev"
)

// DefaultSMSTimeout bounds one whole send (both attempts) when sms.timeout
// is unset.
const DefaultSMSTimeout = 10 * time.Second

// DefaultTwilioBaseURL is sms.twilio.base_url unless a test or a proxy
// says otherwise.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// SMS configures outgoing text messages (sign-in codes). With no provider,
// messages go to the dev SMS sink in dev mode and are not configured
// otherwise.
type SMS struct {
	// Provider is twilio, webhook, dev or "" (the dev sink in dev mode,
	// none otherwise).
	Provider string `yaml:"provider"`
	// From is the sender: an E.164 number, a short code or an
	// alphanumeric sender ID. Twilio needs it unless
	// twilio.messaging_service_sid is set; the webhook passes it on.
	From string `yaml:"from"`
	// Timeout bounds one whole send, the retry included, so a stalled
	// gateway cannot hold the sign-in request that waits for it.
	Timeout time.Duration `yaml:"timeout"`
	Twilio  Twilio        `yaml:"twilio"`
	Webhook SMSWebhook    `yaml:"webhook"`
	// AllowedCountries are the ISO 3166-1 alpha-2 codes ("GB", "CH") of
	// the numbers codes may be texted to; empty: any. A list keeps a
	// toll-fraud ring from pumping texts to premium ranges abroad. Case
	// does not matter; Countries gives the list upper-cased.
	AllowedCountries []string `yaml:"allowed_countries"`
	Caps             SMSCaps  `yaml:"caps"`
}

// SMSCaps are the caps on codes texted per hour; 0 takes the default of
// idp/mfa/smscode (5 per number, 10 per account, 50 per client network,
// 500 per organization).
type SMSCaps struct {
	PerNumber  int `yaml:"per_number"`
	PerAccount int `yaml:"per_account"`
	// PerIP counts per client network (an IPv4 address, an IPv6 /64),
	// as the sign-in lockout does.
	PerIP  int `yaml:"per_ip"`
	PerOrg int `yaml:"per_org"`
}

// Countries returns AllowedCountries upper-cased, without repeats, in
// their order. Entries that are not two letters are skipped (Validate
// rejects them).
func (s SMS) Countries() []string {
	var out []string
	for _, c := range s.AllowedCountries {
		c = strings.ToUpper(strings.TrimSpace(c))
		if countryRE.MatchString(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Twilio configures the twilio provider.
type Twilio struct {
	// AccountSID is the account ("AC" and 32 hex digits); it is the Basic
	// auth user and part of the API path.
	AccountSID    string `yaml:"account_sid"`
	AuthToken     Secret `yaml:"auth_token" secret:"auth_token_file"`
	AuthTokenFile string `yaml:"auth_token_file"`
	// MessagingServiceSID ("MG" and 32 hex digits) sends through a
	// Messaging Service, which picks the sender, instead of sms.from.
	MessagingServiceSID string `yaml:"messaging_service_sid"`
	// BaseURL is the API's origin; tests point it at a local server.
	BaseURL string `yaml:"base_url"`
}

// SMSWebhook configures the webhook provider.
type SMSWebhook struct {
	URL string `yaml:"url"`
	// Secret, when set, signs every request (X-Gatehouse-Signature), so
	// the gateway can tell Gatehouse's requests from anyone else's.
	Secret     Secret `yaml:"secret" secret:"secret_file"`
	SecretFile string `yaml:"secret_file"`
}

var (
	twilioSIDRE = regexp.MustCompile(`^(AC|MG)[0-9a-fA-F]{32}$`)
	e164RE      = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	shortCodeRE = regexp.MustCompile(`^[0-9]{3,8}$`)
	// Alphanumeric sender IDs: up to 11 letters, digits and spaces, at
	// least one letter (the rule of Twilio and of most carriers).
	alphaSenderRE = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	countryRE     = regexp.MustCompile(`^[A-Z]{2}$`)
)

// checkSMS: the settings make sense together. The rule has no key of its
// own; each problem names its setting.
func checkSMS(c *Config) error {
	s := c.SMS
	errs := []error{
		atKey("timeout", errors.Join(positive(s.Timeout), atMost(s.Timeout, time.Minute))),
		// A cap cannot be switched off: an uncapped send is what a
		// pumping attack wants. An hour's cap above a million is a typo.
		atKey("caps.per_number", smsCap(s.Caps.PerNumber)),
		atKey("caps.per_account", smsCap(s.Caps.PerAccount)),
		atKey("caps.per_ip", smsCap(s.Caps.PerIP)),
		atKey("caps.per_org", smsCap(s.Caps.PerOrg)),
	}
	for i, c := range s.AllowedCountries {
		errs = append(errs, atKey(fmt.Sprintf("allowed_countries[%d]", i), country(c)))
	}
	if s.From != "" {
		errs = append(errs, atKey("from", smsSender(s.From)))
	}
	if s.Twilio.BaseURL != "" {
		errs = append(errs, atKey("twilio.base_url", httpsURL(s.Twilio.BaseURL, DefaultTwilioBaseURL, false)))
	}
	if s.Webhook.URL != "" {
		errs = append(errs, atKey("webhook.url", httpsURL(s.Webhook.URL, "https://sms-gateway.example.com/send", true)))
	}
	switch s.Provider {
	default:
		errs = append(errs, atKey("provider", fmt.Errorf("%w (or leave it empty)", oneOf(s.Provider, SMSProviderTwilio, SMSProviderWebhook, SMSProviderDev))))
	case "":
		errs = append(errs, unusedSMSSettings(s))
	case SMSProviderDev:
		if !c.Dev {
			errs = append(errs, atKey("provider", errors.New("dev is allowed only in dev mode: it writes sign-in codes to the log (use twilio or webhook)")))
		}
	case SMSProviderTwilio:
		errs = append(errs, checkTwilio(s))
	case SMSProviderWebhook:
		if s.Webhook.URL == "" {
			errs = append(errs, atKey("webhook.url", errors.New("required when sms.provider is webhook")))
		}
	}
	return errors.Join(errs...)
}

// maxSMSCap bounds each of sms.caps.
const maxSMSCap = 1000000

// smsCap: 0 (the default) or a positive cap of at most maxSMSCap.
func smsCap(n int) error {
	switch {
	case n < 0:
		return fmt.Errorf("must not be negative, got %d (0 takes the default; a cap cannot be switched off)", n)
	case n > maxSMSCap:
		return fmt.Errorf("must be at most %d, got %d", maxSMSCap, n)
	}
	return nil
}

// country: an ISO 3166-1 alpha-2 code, in any case.
func country(s string) error {
	c := strings.ToUpper(strings.TrimSpace(s))
	switch {
	case c == "UK":
		// The one code people guess wrong: ISO's code for the United
		// Kingdom is GB.
		return fmt.Errorf("%q is not an ISO 3166-1 alpha-2 code (the United Kingdom is GB)", s)
	case !countryRE.MatchString(c):
		return fmt.Errorf("%q is not an ISO 3166-1 alpha-2 code (two letters, like GB or CH)", s)
	case !phone.KnownRegion(c):
		// XX, or a region whose numbers count as another's: an entry no
		// number can match is a mistake, not a rule.
		return fmt.Errorf("%q: no phone number counts as that region (numbers of a region that shares its country calling code count as the code's main region, e.g. Guernsey and Jersey as GB)", s)
	}
	return nil
}

// unusedSMSSettings: a provider's settings without sms.provider are a
// half-done setup that would otherwise silently fall back to the dev sink
// or to no SMS at all.
func unusedSMSSettings(s SMS) error {
	for _, set := range []struct {
		key, provider string
		on            bool
	}{
		{"twilio.account_sid", SMSProviderTwilio, s.Twilio.AccountSID != ""},
		{"twilio.auth_token", SMSProviderTwilio, s.Twilio.AuthToken != "" || s.Twilio.AuthTokenFile != ""},
		{"twilio.messaging_service_sid", SMSProviderTwilio, s.Twilio.MessagingServiceSID != ""},
		{"webhook.url", SMSProviderWebhook, s.Webhook.URL != ""},
		{"webhook.secret", SMSProviderWebhook, s.Webhook.Secret != "" || s.Webhook.SecretFile != ""},
	} {
		if set.on {
			return atKey("provider", fmt.Errorf("required when sms.%s is set (set sms.provider: %s)", set.key, set.provider))
		}
	}
	return nil
}

func checkTwilio(s SMS) error {
	t := s.Twilio
	var errs []error
	switch {
	case t.AccountSID == "":
		errs = append(errs, atKey("twilio.account_sid", errors.New("required when sms.provider is twilio (the AC… id on the Twilio console)")))
	case !twilioSIDRE.MatchString(t.AccountSID) || !strings.HasPrefix(t.AccountSID, "AC"):
		errs = append(errs, atKey("twilio.account_sid", fmt.Errorf("%q is not a Twilio account SID (AC and 32 hex digits)", t.AccountSID)))
	}
	if t.AuthToken == "" && t.AuthTokenFile == "" {
		errs = append(errs, atKey("twilio.auth_token", errors.New("required when sms.provider is twilio (set sms.twilio.auth_token_file or sms.twilio.auth_token)")))
	}
	switch {
	case t.MessagingServiceSID != "" && s.From != "":
		errs = append(errs, atKey("from", errors.New("set either sms.from or sms.twilio.messaging_service_sid, not both")))
	case t.MessagingServiceSID == "" && s.From == "":
		errs = append(errs, atKey("from", errors.New("required when sms.provider is twilio, unless sms.twilio.messaging_service_sid is set")))
	case t.MessagingServiceSID != "" && (!twilioSIDRE.MatchString(t.MessagingServiceSID) || !strings.HasPrefix(t.MessagingServiceSID, "MG")):
		errs = append(errs, atKey("twilio.messaging_service_sid", fmt.Errorf("%q is not a Messaging Service SID (MG and 32 hex digits)", t.MessagingServiceSID)))
	}
	return errors.Join(errs...)
}

// smsSender: an E.164 number, a short code, or an alphanumeric sender ID.
func smsSender(s string) error {
	if e164RE.MatchString(s) || shortCodeRE.MatchString(s) ||
		(alphaSenderRE.MatchString(s) && strings.ContainsFunc(s, isLetter)) {
		return nil
	}
	return fmt.Errorf("%q is not an E.164 number (+41791234567), a short code or an alphanumeric sender ID (up to 11 letters, digits, spaces)", s)
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// httpsURL: an absolute URL without user info or fragment; https, except
// on loopback (a local gateway or mirror, tests), where plain http never
// leaves the machine. A query is allowed only when allowQuery (some
// gateways route by it); it is never echoed, since it may hold a token.
func httpsURL(s, example string, allowQuery bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("must be an absolute https URL, e.g. %s", example)
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	switch {
	case u.User != nil:
		return fmt.Errorf("%q must not contain user info", shown)
	case u.Fragment != "" || (u.RawQuery != "" && !allowQuery):
		return fmt.Errorf("%q must not have a query or fragment", shown)
	case u.Scheme == "http" && !isLoopbackName(u.Hostname()):
		return fmt.Errorf("%q must use https (http is allowed only for localhost, 127.0.0.1 or [::1])", shown)
	}
	return nil
}
