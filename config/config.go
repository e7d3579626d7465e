package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// Storage types.
const (
	StorageSQLite   = "sqlite"
	StoragePostgres = "postgres"
)

// Log formats.
const (
	LogFormatJSON = "json"
	LogFormatText = "text"
)

// MasterKeySize is the length in bytes of the decoded master key.
const MasterKeySize = 32

// ErrNoMasterKey is returned by MasterKeyBytes when no master key is set.
// In dev mode that is expected: the caller generates one in the data
// directory.
var ErrNoMasterKey = errors.New("config: master_key is not set")

// Config is the whole Gatehouse configuration. Its yaml tags are the file's
// keys; environment variable names are derived from them (see EnvNames).
//
// After Load, each Secret paired with a *_file setting holds the file's
// content and the *_file field is empty.
type Config struct {
	// Issuer is the public base URL, e.g. https://id.example.com.
	Issuer string `yaml:"issuer"`
	// Dev enables dev mode: http on loopback, generated master key, text logs.
	Dev bool `yaml:"dev"`
	// DataDir holds the SQLite database and dev-generated files.
	DataDir string `yaml:"data_dir"`
	// MasterKey is the base64 of 32 bytes that encrypts secrets at rest.
	MasterKey     Secret `yaml:"master_key" secret:"master_key_file"`
	MasterKeyFile string `yaml:"master_key_file"`

	Server    Server    `yaml:"server"`
	Log       Log       `yaml:"log"`
	Storage   Storage   `yaml:"storage"`
	Password  Password  `yaml:"password"`
	Lockout   Lockout   `yaml:"lockout"`
	Bootstrap Bootstrap `yaml:"bootstrap"`
	Invite    Invite    `yaml:"invite"`
	Reset     Reset     `yaml:"reset"`
	SMTP      SMTP      `yaml:"smtp"`
	Mail      Mail      `yaml:"mail"`
	SMS       SMS       `yaml:"sms"`
	// Clients are the OIDC clients declared in the file (see Client).
	Clients []Client `yaml:"clients"`
	// Connectors are the organizations' upstream identity providers
	// declared in the file (see Connector).
	Connectors []Connector `yaml:"connectors"`
	// SAML configures the SAML identity provider (the front door at
	// /saml/...): its signing keys and the service providers declared in
	// the file (see SAML).
	SAML SAML `yaml:"saml"`
	// Console configures the admin console at /admin.
	Console Console `yaml:"console"`
}

// Console configures the admin console.
type Console struct {
	// RequireMFA makes administrators prove a second factor before the
	// console shows anything (on by default; the server always offers
	// authenticator apps). Turning it off leaves the organization's own
	// MFA policy as the only one.
	RequireMFA bool `yaml:"require_mfa"`
}

// Server configures the HTTP listener and its lifecycle.
type Server struct {
	// Addr is the listen address, host:port.
	Addr string `yaml:"addr"`
	// MetricsAddr is where /metrics is served, host:port, on a listener of
	// its own; /metrics is then not on Addr. Empty serves /metrics on Addr
	// (the dev default). The production default is loopback, so metrics
	// are never on the public listener unless configured so.
	MetricsAddr string `yaml:"metrics_addr"`
	// DrainDelay is how long /readyz reports 503 after SIGTERM before the
	// listener closes, so load balancers stop sending traffic first.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// ShutdownTimeout bounds the graceful shutdown of in-flight requests.
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// TrustedProxies are CIDRs (or single IPs) whose X-Forwarded-For is
	// believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Log configures the process logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // json or text
}

// Storage selects and configures the storage backend.
type Storage struct {
	Type string `yaml:"type"` // sqlite or postgres
	// DSN is a file path for sqlite (default <data_dir>/gatehouse.db) and a
	// connection string for postgres (required).
	DSN     Secret `yaml:"dsn" secret:"dsn_file"`
	DSNFile string `yaml:"dsn_file"`
	// QueryTimeout bounds every storage call; a database that does not
	// answer within it makes the request answer 503.
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Password configures local passwords. MinLength, MaxAge, MinAge and
// BreachCheck.Enabled are the server-wide default policy; an organization
// may override each (gatehouse orgs set-password-policy).
type Password struct {
	// MinLength is in characters, from 8 to 1024.
	MinLength int `yaml:"min_length"`
	// MaxAge > 0 makes a password older than this be replaced at the next
	// login; 0: passwords do not expire.
	MaxAge time.Duration `yaml:"max_age"`
	// MinAge > 0 refuses a self-service change or reset within this time
	// of the last change; 0: no minimum age.
	MinAge      time.Duration `yaml:"min_age"`
	BreachCheck BreachCheck   `yaml:"breach_check"`
	Argon2      Argon2        `yaml:"argon2"`
}

// BreachCheck configures the Have I Been Pwned range API lookup. URL and
// Timeout apply whenever a policy asks for the check, including an
// organization's that turns it on while Enabled (the default) is off.
type BreachCheck struct {
	Enabled bool `yaml:"enabled"`
	// URL is the API's base: the lookup is GET URL/range/{5 hex}.
	URL string `yaml:"url"`
	// Timeout bounds one lookup; beyond it the password is accepted
	// without the check and a warning is logged.
	Timeout time.Duration `yaml:"timeout"`
}

// Policy is the server-wide default password policy.
func (p Password) Policy() password.Policy {
	return password.Policy{MinLength: p.MinLength, BreachCheck: p.BreachCheck.Enabled, MaxAge: p.MaxAge, MinAge: p.MinAge}
}

// Argon2 holds argon2id parameters. They are ints here so that validation
// messages are uniform; the password package converts them.
type Argon2 struct {
	MemoryKiB   int `yaml:"memory_kib"`
	Iterations  int `yaml:"iterations"`
	Parallelism int `yaml:"parallelism"`
	// MaxConcurrent bounds simultaneous hashes; 0 means one per CPU
	// (password.DefaultMaxConcurrent), decided where it is used.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Lockout limits guesses at secrets (passwords, later second-factor
// codes): per account a temporary lock, per client network a sliding
// window that slows spraying without locking anyone.
type Lockout struct {
	// MaxFailures consecutive failures lock the account for Duration,
	// counted from the failure that reached the limit; it ends by itself.
	MaxFailures int           `yaml:"max_failures"`
	Duration    time.Duration `yaml:"duration"`
	// IPMaxFailures failures per IPWindow from one network (an IPv4
	// address, an IPv6 /64) throttle it.
	IPMaxFailures int           `yaml:"ip_max_failures"`
	IPWindow      time.Duration `yaml:"ip_window"`
}

// Bootstrap names what is created on first start.
type Bootstrap struct {
	Organization string `yaml:"organization"`
	AdminEmail   string `yaml:"admin_email"`
}

// Invite configures welcome emails (users create --invite).
type Invite struct {
	// TTL bounds the set-password link of a welcome email.
	TTL time.Duration `yaml:"ttl"`
}

// Reset configures "forgot password" and its emails.
type Reset struct {
	// Enabled shows "Forgot password?" and serves the reset pages. Outside
	// dev mode it needs smtp.host.
	Enabled bool `yaml:"enabled"`
	// TTL bounds a reset link (and a set-password link an invited user
	// asks for with the same form).
	TTL time.Duration `yaml:"ttl"`
	// AddressLimit and IPLimit cap link requests per email address and
	// per client IP within LimitWindow. They count every request, for any
	// address, so they reveal nothing about accounts.
	AddressLimit int           `yaml:"address_limit"`
	IPLimit      int           `yaml:"ip_limit"`
	LimitWindow  time.Duration `yaml:"limit_window"`
}

// Default returns the production defaults. Issuer and master_key have no
// default and must be configured.
func Default() Config {
	return Config{
		DataDir: "./gatehouse-data",
		Server: Server{
			Addr:              ":8080",
			MetricsAddr:       DefaultMetricsAddr,
			DrainDelay:        5 * time.Second,
			ShutdownTimeout:   30 * time.Second,
			ReadHeaderTimeout: 10 * time.Second,
		},
		Log:     Log{Level: "info", Format: LogFormatJSON},
		Storage: Storage{Type: StorageSQLite, QueryTimeout: 5 * time.Second},
		Password: Password{
			MinLength: 8,
			// pwned.DefaultBaseURL and pwned.DefaultTimeout.
			BreachCheck: BreachCheck{URL: "https://api.pwnedpasswords.com", Timeout: 2 * time.Second},
			Argon2: Argon2{
				MemoryKiB:   19456, // OWASP's argon2id recommendation
				Iterations:  2,
				Parallelism: 1,
			},
		},
		// The defaults of idp/lockout.
		Lockout:   Lockout{MaxFailures: 10, Duration: 10 * time.Minute, IPMaxFailures: 100, IPWindow: 10 * time.Minute},
		Bootstrap: Bootstrap{Organization: "default", AdminEmail: "admin@localhost"},
		Invite:    Invite{TTL: 72 * time.Hour},
		Reset:     Reset{Enabled: true, TTL: time.Hour, AddressLimit: 5, IPLimit: 20, LimitWindow: time.Hour},
		SMTP:      SMTP{TLS: SMTPTLSStartTLS, Timeout: DefaultSMTPTimeout},
		SMS:       SMS{Timeout: DefaultSMSTimeout, Twilio: Twilio{BaseURL: DefaultTwilioBaseURL}},
		SAML:      SAML{KeyBits: SAMLKeyBits2048, MetadataRefresh: DefaultMetadataRefresh},
		Console:   Console{RequireMFA: true},
	}
}

// DefaultMetricsAddr is server.metrics_addr outside dev mode: loopback,
// the port Prometheus exporters conventionally use for their own.
const DefaultMetricsAddr = "127.0.0.1:9464"

// DevDefault returns the dev-mode defaults: Default with Dev set, an http
// issuer on localhost, a loopback listener, a one-second drain delay and
// text logs. The drain delay is short but not zero: with zero, Shutdown
// would start the moment /readyz turns 503, closing keep-alive connections
// a request may already be on its way over.
func DevDefault() Config {
	c := Default()
	c.Dev = true
	c.Issuer = "http://localhost:8080"
	c.Server.Addr = "127.0.0.1:8080"
	c.Server.DrainDelay = time.Second
	c.Server.MetricsAddr = "" // on the main listener
	c.Log.Format = LogFormatText
	return c
}

// SQLitePath returns the SQLite database file: storage.dsn when set,
// otherwise <data_dir>/gatehouse.db.
func (c Config) SQLitePath() string {
	if c.Storage.DSN != "" {
		return c.Storage.DSN.Reveal()
	}
	return filepath.Join(c.DataDir, "gatehouse.db")
}

// StorageDSN returns what the selected backend opens: SQLitePath for
// sqlite, storage.dsn for postgres.
func (c Config) StorageDSN() string {
	if c.Storage.Type == StoragePostgres {
		return c.Storage.DSN.Reveal()
	}
	return c.SQLitePath()
}

// MasterKeyBytes returns the decoded master key. It returns ErrNoMasterKey
// when none is set; other errors never contain the key.
func (c Config) MasterKeyBytes() ([]byte, error) {
	if c.MasterKey == "" {
		return nil, ErrNoMasterKey
	}
	return decodeMasterKey(c.MasterKey.Reveal())
}

// decodeMasterKey accepts standard base64 with or without padding.
func decodeMasterKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		var rawErr error
		if b, rawErr = base64.RawStdEncoding.DecodeString(s); rawErr != nil {
			// err names a byte offset, never the content.
			return nil, fmt.Errorf("not valid base64: %w", err)
		}
	}
	if len(b) != MasterKeySize {
		return nil, fmt.Errorf("must decode to %d bytes, got %d", MasterKeySize, len(b))
	}
	return b, nil
}

// SlogLevel returns the slog level named by Level (info if unknown; Validate
// rejects unknown levels).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// TrustedProxyPrefixes returns TrustedProxies parsed and masked; a single IP
// becomes a one-address prefix. Entries that do not parse are skipped
// (Validate rejects them).
func (s Server) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s.TrustedProxies {
		if prefix, err := parsePrefix(p); err == nil {
			out = append(out, prefix)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("zoned address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
