package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// FieldError is one configuration problem. Key says where: a key path
// ("server.addr", "server.trusted_proxies[1]"), an environment variable
// ("GATEHOUSE_SERVER_ADDR") or a file position ("gatehouse.yaml:3").
type FieldError struct {
	Key string
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// rule checks one setting. check returns nil when the setting is fine, and
// may return several problems joined with errors.Join. A problem wrapped by
// at is reported below key, e.g. at("[2]", err) on "server.trusted_proxies"
// reports "server.trusted_proxies[2]: …".
type rule struct {
	key   string
	check func(c *Config) error
}

// rules is every check Validate runs, in the order of the schema. A new
// section adds its rows here.
var rules = []rule{
	{"issuer", checkIssuer},
	{"data_dir", func(c *Config) error { return required(c.DataDir) }},
	{"master_key", checkMasterKey},
	{"", checkSecretPairs},

	{"server.addr", func(c *Config) error { return hostPort(c.Server.Addr) }},
	{"server.metrics_addr", checkMetricsAddr},
	{"server.drain_delay", func(c *Config) error { return atLeast(c.Server.DrainDelay, 0) }},
	{"server.shutdown_timeout", func(c *Config) error { return positive(c.Server.ShutdownTimeout) }},
	{"server.read_header_timeout", func(c *Config) error { return positive(c.Server.ReadHeaderTimeout) }},
	{"server.trusted_proxies", func(c *Config) error { return each(c.Server.TrustedProxies, cidr) }},

	{"log.level", func(c *Config) error { return oneOf(c.Log.Level, "debug", "info", "warn", "error") }},
	{"log.format", func(c *Config) error { return oneOf(c.Log.Format, LogFormatJSON, LogFormatText) }},

	{"storage.type", func(c *Config) error { return oneOf(c.Storage.Type, StorageSQLite, StoragePostgres) }},
	{"storage.dsn", func(c *Config) error {
		if c.Storage.Type == StoragePostgres && c.Storage.DSN == "" && c.Storage.DSNFile == "" {
			return errors.New("required when storage.type is postgres (set storage.dsn or storage.dsn_file)")
		}
		return nil
	}},
	// Beyond a minute a frozen database holds requests (and their
	// connections) far longer than any client waits.
	{"storage.query_timeout", func(c *Config) error {
		return errors.Join(positive(c.Storage.QueryTimeout), atMost(c.Storage.QueryTimeout, time.Minute))
	}},

	// min_length, max_age, min_age: idp/password owns their bounds.
	{"password", checkPasswordPolicy},
	{"password.breach_check.url", func(c *Config) error { return checkBreachURL(c.Password.BreachCheck.URL) }},
	// A password change waits for the lookup.
	{"password.breach_check.timeout", func(c *Config) error {
		return errors.Join(positive(c.Password.BreachCheck.Timeout), atMost(c.Password.BreachCheck.Timeout, 30*time.Second))
	}},
	// 1 MiB is far below any sane setting; 4 GiB per hash is a typo.
	{"password.argon2.memory_kib", func(c *Config) error { return between(c.Password.Argon2.MemoryKiB, 1024, 4<<20) }},
	// argon2 iterations are not PBKDF2 iterations: 600000 would hang logins.
	{"password.argon2.iterations", func(c *Config) error { return between(c.Password.Argon2.Iterations, 1, 100) }},
	{"password.argon2.parallelism", func(c *Config) error { return between(c.Password.Argon2.Parallelism, 1, 64) }},
	{"password.argon2.max_concurrent", func(c *Config) error { return atLeast(c.Password.Argon2.MaxConcurrent, 0) }},

	// A lock must end by itself: at most a day, so nobody can lock an
	// account for good by configuration either.
	{"lockout.max_failures", func(c *Config) error { return between(c.Lockout.MaxFailures, 1, 1000) }},
	{"lockout.duration", func(c *Config) error { return between(c.Lockout.Duration, time.Second, 24*time.Hour) }},
	{"lockout.ip_max_failures", func(c *Config) error { return between(c.Lockout.IPMaxFailures, 1, 1000000) }},
	{"lockout.ip_window", func(c *Config) error { return between(c.Lockout.IPWindow, time.Second, 24*time.Hour) }},

	{"bootstrap.organization", func(c *Config) error { return required(c.Bootstrap.Organization) }},
	{"bootstrap.admin_email", func(c *Config) error { return email(c.Bootstrap.AdminEmail) }},

	// A welcome link lives at least an hour (time to read the email) and
	// at most 30 days; a reset link between 5 minutes and a day.
	{"invite.ttl", func(c *Config) error {
		return errors.Join(atLeast(c.Invite.TTL, time.Hour), atMost(c.Invite.TTL, 30*24*time.Hour))
	}},
	{"reset.ttl", func(c *Config) error {
		return errors.Join(atLeast(c.Reset.TTL, 5*time.Minute), atMost(c.Reset.TTL, 24*time.Hour))
	}},
	{"reset.address_limit", func(c *Config) error { return between(c.Reset.AddressLimit, 1, 1000) }},
	{"reset.ip_limit", func(c *Config) error { return between(c.Reset.IPLimit, 1, 100000) }},
	{"reset.limit_window", func(c *Config) error {
		return errors.Join(atLeast(c.Reset.LimitWindow, time.Minute), atMost(c.Reset.LimitWindow, 24*time.Hour))
	}},
	{"smtp", checkSMTP},
	{"sms", checkSMS},

	{"clients", checkClients},
	{"connectors", checkConnectors},

	{"saml.key_bits", checkSAMLKeyBits},
	{"saml.metadata_refresh", func(c *Config) error { return atLeast(c.SAML.MetadataRefresh, MinMetadataRefresh) }},
	{"saml.service_providers", checkServiceProviders},
}

// Validate checks the whole configuration and returns every problem at
// once, joined with errors.Join; each is a *FieldError whose message starts
// with the key path. It never quotes a secret.
func (c *Config) Validate() error {
	var errs []error
	for _, r := range rules {
		for _, err := range flatten(r.check(c)) {
			if fe, ok := err.(*FieldError); ok {
				errs = append(errs, &FieldError{Key: joinKey(r.key, fe.Key), Err: fe.Err})
			} else {
				errs = append(errs, &FieldError{Key: r.key, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

// flatten lists the leaves of a tree of joined errors.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// at reports err below the rule's key: a field ("argon2.iterations") or a
// list index ("[2]").
func at(sub string, err error) error { return &FieldError{Key: sub, Err: err} }

// Reusable checks. Each returns a message without the key.

func required(s string) error {
	if s == "" {
		return errors.New("required")
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
}

func between[T cmp.Ordered](v, lo, hi T) error {
	if v < lo || v > hi {
		return fmt.Errorf("must be between %v and %v, got %v", lo, hi, v)
	}
	return nil
}

func atLeast[T cmp.Ordered](v, lo T) error {
	if v < lo {
		return fmt.Errorf("must be at least %v, got %v", lo, v)
	}
	return nil
}

func atMost[T cmp.Ordered](v, hi T) error {
	if v > hi {
		return fmt.Errorf("must be at most %v, got %v", hi, v)
	}
	return nil
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be greater than 0, got %v", d)
	}
	return nil
}

// each runs check on every item, reporting problems at "[i]".
func each[T any](items []T, check func(T) error) error {
	var errs []error
	for i, item := range items {
		if err := check(item); err != nil {
			errs = append(errs, at(fmt.Sprintf("[%d]", i), err))
		}
	}
	return errors.Join(errs...)
}

// checkMetricsAddr: empty (serve /metrics on server.addr) or host:port,
// and not server.addr itself, which would make the second listen fail
// (port 0, any free port, may appear in both).
func checkMetricsAddr(c *Config) error {
	if c.Server.MetricsAddr == "" {
		return nil
	}
	if err := hostPort(c.Server.MetricsAddr); err != nil {
		return err
	}
	if _, port, _ := net.SplitHostPort(c.Server.MetricsAddr); c.Server.MetricsAddr == c.Server.Addr && port != "0" {
		return fmt.Errorf("%q is server.addr; leave it empty to serve /metrics on the main listener", c.Server.MetricsAddr)
	}
	return nil
}

func hostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return nil
}

func cidr(s string) error {
	if _, err := parsePrefix(s); err != nil {
		return fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8) or IP address", s)
	}
	return nil
}

func email(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

func checkIssuer(c *Config) error {
	if c.Issuer == "" {
		return errors.New("required, e.g. https://id.example.com")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("must be an absolute https URL, e.g. https://id.example.com")
	}
	shown := u.Redacted() // never echo a password in user info
	var errs []error
	if u.User != nil {
		errs = append(errs, fmt.Errorf("%q must not contain user info", shown))
	}
	if u.Scheme == "http" {
		switch {
		case !c.Dev:
			errs = append(errs, fmt.Errorf("%q must use https (http is allowed only in dev mode)", shown))
		case !isLoopbackName(u.Hostname()):
			errs = append(errs, fmt.Errorf("%q: http is allowed only for localhost, 127.0.0.1 or [::1]", shown))
		}
	}
	if strings.ContainsAny(c.Issuer, "?#") {
		errs = append(errs, fmt.Errorf("%q must not have a query or fragment", shown))
	}
	if strings.HasSuffix(c.Issuer, "/") {
		errs = append(errs, fmt.Errorf("%q must not end with a slash", shown))
	}
	return errors.Join(errs...)
}

func isLoopbackName(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func checkMasterKey(c *Config) error {
	if c.MasterKey == "" {
		if c.Dev || c.MasterKeyFile != "" {
			return nil
		}
		return errors.New("required unless dev is true: set master_key or master_key_file " +
			"to the base64 of 32 random bytes (openssl rand -base64 32)")
	}
	_, err := decodeMasterKey(c.MasterKey.Reveal())
	return err
}

// checkSecretPairs rejects a secret set both inline and by file. Its rule
// has no key: the problems carry the secrets' own key paths.
func checkSecretPairs(c *Config) error {
	var errs []error
	for _, p := range secretPairs(reflect.ValueOf(c).Elem()) {
		if p.value.String() != "" && p.file.String() != "" {
			errs = append(errs, at(p.key, fmt.Errorf("%s and %s are both set; set only one", p.key, p.fileKey)))
		}
	}
	return errors.Join(errs...)
}

// checkPasswordPolicy reports the policy settings out of range below
// "password", as idp/password's Policy.Validate finds them.
func checkPasswordPolicy(c *Config) error {
	var errs []error
	for _, err := range flatten(c.Password.Policy().Validate()) {
		var se *password.SettingError
		if errors.As(err, &se) {
			err = at(se.Setting, errors.New(se.Msg))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkBreachURL: an absolute URL without user info, query or fragment;
// https, except on loopback (a local mirror, tests).
func checkBreachURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q must be an absolute https URL, e.g. https://api.pwnedpasswords.com", s)
	}
	shown := u.Redacted()
	switch {
	case u.User != nil:
		return fmt.Errorf("%q must not contain user info", shown)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q must not have a query or fragment", shown)
	case u.Scheme == "http" && !isLoopbackName(u.Hostname()):
		return fmt.Errorf("%q must use https (http is allowed only for localhost, 127.0.0.1 or [::1])", shown)
	}
	return nil
}
