package instance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/federation"
	fedsaml "github.com/gatehouse-idp/gatehouse/federation/saml"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/httpserver"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/emailcode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/recovery"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/smscode"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/totplogin"
	"github.com/gatehouse-idp/gatehouse/idp/mfa/webauthnmfa"
	"github.com/gatehouse-idp/gatehouse/idp/notify"
	"github.com/gatehouse-idp/gatehouse/idp/password"
	"github.com/gatehouse-idp/gatehouse/idp/password/pwned"
	"github.com/gatehouse-idp/gatehouse/idp/passwordlogin"
	"github.com/gatehouse-idp/gatehouse/idp/phone"
	"github.com/gatehouse-idp/gatehouse/idp/selfservice"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/postgres"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlite"
	"github.com/gatehouse-idp/gatehouse/idp/storage/sqlstore"
)

// Store is what the instance needs of a backend: the contract plus
// migrations.
type Store interface {
	storage.Storage
	Migrate(ctx context.Context) ([]int, error)
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// OpenStore opens the configured backend without migrating it.
func OpenStore(ctx context.Context, cfg config.Config) (Store, error) {
	switch cfg.Storage.Type {
	case config.StorageSQLite:
		s, err := sqlite.Open(ctx, cfg.SQLitePath(), sqlstore.QueryTimeout(cfg.Storage.QueryTimeout))
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", cfg.SQLitePath(), err)
		}
		return s, nil
	case config.StoragePostgres:
		s, err := postgres.Open(ctx, cfg.Storage.DSN.Reveal(), sqlstore.QueryTimeout(cfg.Storage.QueryTimeout))
		if err != nil {
			// The DSN may carry a password: never echo it.
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unknown storage type %q", cfg.Storage.Type)
	}
}

// Instance is one assembled Gatehouse.
type Instance struct {
	Config config.Config
	Logger *slog.Logger
	Now    func() time.Time
	Store  Store
	Key    *masterkey.Key
	Hasher *password.Hasher
	Audit  *audit.Recorder
	Admin  *admin.Service
	Flow   *authflow.Flow
	Keys   *keys.Manager
	// SAMLKeys sign the SAML front door's assertions and are published in
	// its metadata.
	SAMLKeys *keys.SAMLManager
	// Connectors opens organizations' upstream identity providers.
	Connectors *federation.Registry

	// Checker judges new passwords; Passwords resolves an
	// organization's effective policy (the config's defaults with the
	// organization's overrides).
	Checker   *password.Checker
	Passwords *password.Policies

	// Lockout counts failed guesses at secrets; the flow consults it and
	// the admin service lifts its locks.
	Lockout *lockout.Limiter
	// Mail sends email (SMTP, the dev sink, or notify.NotConfigured);
	// Templates are its messages.
	Mail      notify.Notifier
	Templates *notify.Templates
	// SelfService issues and honours set-password links and password
	// changes.
	SelfService *selfservice.Service
	// WebAuthn is the security-key and passkey method (/me registers
	// keys with it); nil when the issuer's host is an IP address.
	WebAuthn *webauthnmfa.Method
	rules    passwordRules
	// masterRaw is the master key's bytes, from which per-purpose keys
	// are derived (see derive).
	masterRaw []byte
	// MasterKeyCreated is true when this start generated the dev key.
	MasterKeyCreated bool
	// Migrated lists the migrations this start applied.
	Migrated []int
}

// Options tune an Instance beyond its config; zero values are production
// defaults.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// WrapStore, when set, wraps the opened store before anything uses
	// it (tests that observe what a request writes).
	WrapStore func(Store) Store
	// MailRootCAs, when set, are the roots the SMTP client trusts (tests
	// with a private test certificate); nil means the system's.
	MailRootCAs *x509.CertPool
	// AnswerFloor overrides the least time a link request takes
	// (selfservice.Service.AnswerFloor; tests shorten it). 0: the default.
	AnswerFloor time.Duration
	// Connectors open the upstream connector types this build has
	// (federation/oidc, federation/saml), keyed by type; NewSPKey makes a
	// SAML connector's SP key pair. The admin service tests connectors
	// and creates SAML ones with them; without them it refuses to.
	Connectors map[string]federation.Opener
	NewSPKey   func(now time.Time) (certPEM string, keyDER []byte, err error)
}

// Open opens storage, applies pending migrations and loads the master key.
func Open(ctx context.Context, cfg config.Config, opts Options) (*Instance, error) {
	inst := &Instance{Config: cfg, Logger: opts.Logger, Now: opts.Now}
	if inst.Logger == nil {
		inst.Logger = slog.Default()
	}
	if inst.Now == nil {
		inst.Now = time.Now
	}
	raw, created, err := loadMasterKey(cfg)
	if err != nil {
		return nil, err
	}
	inst.MasterKeyCreated = created
	inst.masterRaw = raw
	if inst.Key, err = masterkey.New(raw); err != nil {
		return nil, err
	}
	if inst.Store, err = OpenStore(ctx, cfg); err != nil {
		return nil, err
	}
	if inst.Migrated, err = inst.Store.Migrate(ctx); err != nil {
		inst.Store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if opts.WrapStore != nil {
		inst.Store = opts.WrapStore(inst.Store)
	}
	a := cfg.Password.Argon2
	// Validate bounds these, so the conversions cannot overflow.
	inst.Hasher = password.NewHasher(password.Params{MemoryKiB: uint32(a.MemoryKiB), Iterations: uint32(a.Iterations),
		Parallelism: uint8(a.Parallelism)}, a.MaxConcurrent)
	// The breach client exists even when the default policy leaves the
	// check off: an organization may turn it on.
	bc := cfg.Password.BreachCheck
	if inst.Checker, err = password.NewChecker(&pwned.Client{BaseURL: bc.URL, Timeout: bc.Timeout}, inst.Logger); err != nil {
		inst.Store.Close()
		return nil, err
	}
	inst.Passwords = &password.Policies{Orgs: inst.Store, Defaults: cfg.Password.Policy()}
	inst.Audit = &audit.Recorder{Store: inst.Store, Logger: inst.Logger, Now: inst.Now, Meta: requestMeta}
	lo := cfg.Lockout
	inst.Lockout = &lockout.Limiter{Store: inst.Store, Audit: inst.Audit, Now: inst.Now, Logger: inst.Logger,
		MaxFailures: lo.MaxFailures, Duration: lo.Duration, IPMaxFailures: lo.IPMaxFailures, IPWindow: lo.IPWindow}
	inst.Admin = &admin.Service{Store: inst.Store, Hasher: inst.Hasher, Audit: inst.Audit, Now: inst.Now,
		Policy: cfg.Password.Policy(), Checker: inst.Checker, Lockout: inst.Lockout, Logger: inst.Logger,
		Federation: admin.Federation{Sealer: inst.Key, Issuer: cfg.Issuer, Dev: cfg.Dev,
			HTTP: &http.Client{Timeout: upstreamTimeout}, Openers: opts.Connectors, NewSPKey: opts.NewSPKey}}
	if inst.Admin.Federation.Openers == nil {
		// The built-in types (federation.go); tests may give others.
		inst.Admin.Federation.Openers = Openers
	}
	if inst.Admin.Federation.NewSPKey == nil {
		inst.Admin.Federation.NewSPKey = fedsaml.NewSPKey
	}
	inst.rules = passwordRules{policies: inst.Passwords, checker: inst.Checker, now: inst.Now}
	// Templates load now, so a broken override directory stops start-up.
	if inst.Mail, inst.Templates, err = notify.FromConfigWith(cfg, notify.Options{Logger: inst.Logger, Now: inst.Now, RootCAs: opts.MailRootCAs}); err != nil {
		inst.Store.Close()
		return nil, err
	}
	inst.SelfService = inst.newSelfService(opts.AnswerFloor)
	if inst.MailConfigured() {
		// The admin's links and notices leave the way the user's own do.
		inst.Admin.Links, inst.Admin.Mail = inst.SelfService, inst.SelfService.Mail
	}
	// The flow's sessions and front doors are wired with the web side
	// (NewServer); its back doors are known now.
	inst.Flow = &authflow.Flow{Store: inst.Store, Audit: inst.Audit, Now: inst.Now, Lockout: inst.Lockout, Expiry: inst.rules}
	inst.Flow.RegisterMethod(&passwordlogin.Method{Users: inst.Store, Hasher: inst.Hasher})
	inst.Flow.RegisterMethod(&passwordlogin.Renewal{Users: inst.Store, Hasher: inst.Hasher, Rules: inst.rules, Now: inst.Now})
	inst.wireFederation()
	app := inst.totpMethod()
	inst.Flow.RegisterFactor(app)
	rec := &recovery.Method{Store: inst.Store, Now: inst.Now, Logger: inst.Logger}
	inst.Flow.RegisterFactor(rec)
	inst.Flow.Recovery = rec
	// /me adds factors with the login's own methods: one place makes,
	// seals, sends and caps.
	inst.SelfService.TOTP, inst.SelfService.Recovery = app, rec
	if inst.MailConfigured() {
		// Email codes need a way to send them; without one, the method
		// is not offered (an organization that allows only email then
		// has no method, and its users are told to ask an admin).
		em, err := inst.emailMethod()
		if err != nil {
			inst.Store.Close()
			return nil, err
		}
		inst.Flow.RegisterFactor(em)
		inst.SelfService.EmailCodes = em
		// Its codes also prove an account before a link (federation).
		inst.Flow.Federation.Address = em
		// A factor enrolled at a login is mailed like one added at /me.
		inst.Flow.Notices = inst.SelfService
	}
	// Text messages need a gateway (or the dev sink); without one, the
	// method is not offered.
	if sm, err := inst.smsMethod(); err != nil {
		inst.Store.Close()
		return nil, err
	} else if sm != nil {
		inst.Flow.RegisterFactor(sm)
		inst.SelfService.SMS = sm
	}
	// Security keys and passkeys need a relying-party id, which an
	// issuer on an IP address has none of: the method is then left out,
	// with a warning, and everything else works.
	if wa, err := inst.webauthnMethod(); err != nil {
		inst.Store.Close()
		return nil, err
	} else if wa != nil {
		inst.Flow.RegisterFactor(wa)
		inst.Flow.Passkeys = wa
		inst.WebAuthn = wa
		inst.SelfService.Keys = wa
	}
	inst.Keys = &keys.Manager{Store: inst.Store, Sealer: inst.Key, Now: inst.Now, Logger: inst.Logger}
	inst.SAMLKeys = &keys.SAMLManager{Store: inst.Store, Sealer: inst.Key, Now: inst.Now, Logger: inst.Logger,
		KeyBits: cfg.SAML.KeyBits, Issuer: cfg.Issuer}
	inst.Admin.Keys = admin.Keys{OIDC: inst.Keys, SAML: inst.SAMLKeys}
	return inst, nil
}

// webauthnMethod is the security-key method, its relying party the
// issuer; nil (and a warning) when the issuer's host is an IP address.
func (i *Instance) webauthnMethod() (*webauthnmfa.Method, error) {
	key, err := i.derive("webauthn user handles")
	if err != nil {
		return nil, fmt.Errorf("instance: webauthn user-handle key: %w", err)
	}
	m, err := webauthnmfa.New(webauthnmfa.Config{Issuer: i.Config.Issuer, Key: key, Store: i.Store, Now: i.Now, Logger: i.Logger})
	if errors.Is(err, webauthnmfa.ErrIPAddress) {
		i.Logger.Warn("security keys and passkeys are off: the issuer's host is an IP address, which WebAuthn cannot use; serve the issuer on a domain name (localhost in development) to offer them",
			"issuer", i.Config.Issuer)
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	return m, nil
}

// totpMethod is the authenticator-app method, with the organization's
// display name as the apps' issuer.
func (i *Instance) totpMethod() *totplogin.Method {
	return &totplogin.Method{Factors: i.Store, Sealer: i.Key, Now: i.Now, Logger: i.Logger, Issuer: i.orgDisplayName}
}

// emailMethod is the email-code method: codes by mail, their hashes keyed
// with a key derived from the master key (not in the database), sends
// capped per address, account and network in storage (shared by every
// instance).
func (i *Instance) emailMethod() (*emailcode.Method, error) {
	key, err := i.derive("email codes")
	if err != nil {
		return nil, fmt.Errorf("instance: email code key: %w", err)
	}
	return &emailcode.Method{Store: i.Store, Mailer: emailcode.NotifyMailer{Notifier: i.Mail, Templates: i.Templates},
		Sends: emailcode.SendLimits{}.Windows(i.Store, i.Now), ClientIP: httpserver.ClientIP, Key: key,
		OrgName: i.orgDisplayName, Issuer: i.Config.Issuer, Now: i.Now, Logger: i.Logger}, nil
}

// smsMethod is the text-message method over the configured gateway; nil
// when no gateway is configured. sms.caps are per hour (0: the method's
// defaults); sms.allowed_countries limits where codes go.
func (i *Instance) smsMethod() (*smscode.Method, error) {
	sender, err := notify.SMSFromConfig(i.Config, notify.Options{Logger: i.Logger, Now: i.Now})
	if err != nil {
		return nil, err
	}
	if _, off := sender.(notify.SMSNotConfigured); off {
		return nil, nil
	}
	key, err := i.derive("sms codes")
	if err != nil {
		return nil, fmt.Errorf("instance: sms code key: %w", err)
	}
	caps := i.Config.SMS.Caps
	limits := smscode.SendLimits{PerNumber: caps.PerNumber, PerAccount: caps.PerAccount, PerNetwork: caps.PerIP, PerOrg: caps.PerOrg}
	return &smscode.Method{Store: i.Store, Sender: smsSender{sender}, Sends: limits.Windows(i.Store, i.Now),
		ClientIP: httpserver.ClientIP, AllowedCountries: i.Config.SMS.Countries(), Country: phone.Country,
		Key: key, Issuer: i.Config.Issuer, OrgName: i.orgDisplayName, Now: i.Now, Logger: i.Logger, Audit: i.Audit}, nil
}

// smsSender adapts notify's sender, which also reports the gateway's
// answer, to the method's.
type smsSender struct{ s notify.SMSSender }

func (a smsSender) SendSMS(ctx context.Context, to, text string) error {
	_, err := a.s.SendSMS(ctx, to, text)
	return err
}

// orgDisplayName is u's organization's display name ("" when it has
// none or cannot be read: the pages and mails then say "Gatehouse").
func (i *Instance) orgDisplayName(ctx context.Context, u storage.User) string {
	if u.OrgID == "" {
		return ""
	}
	o, err := i.Store.GetOrganization(ctx, u.OrgID)
	if err != nil {
		return ""
	}
	return o.DisplayName
}

// MailConfigured reports whether email can be sent: SMTP, or the dev
// sink.
func (i *Instance) MailConfigured() bool {
	_, off := i.Mail.(notify.NotConfigured)
	return !off
}

// MasterKeyFile is where dev mode keeps its generated key.
func MasterKeyFile(cfg config.Config) string { return filepath.Join(cfg.DataDir, "master.key") }

func loadMasterKey(cfg config.Config) ([]byte, bool, error) {
	if cfg.MasterKey != "" {
		raw, err := cfg.MasterKeyBytes()
		return raw, false, err
	}
	if !cfg.Dev {
		return nil, false, errors.New("master_key is required outside dev mode")
	}
	raw, created, err := masterkey.LoadOrCreate(MasterKeyFile(cfg))
	if err != nil {
		return nil, false, fmt.Errorf("dev master key: %w", err)
	}
	return raw, created, nil
}

func requestMeta(ctx context.Context) audit.Meta {
	return audit.Meta{RequestID: httpserver.RequestID(ctx), IP: httpserver.ClientIP(ctx)}
}

// Close releases the storage.
func (i *Instance) Close() error { return i.Store.Close() }

// Bootstrap makes a fresh install usable. In dev mode it also creates an
// admin with a random password when there are no users; in production that
// would print a password into service logs, so the operator creates the
// first admin with `gatehouse users create --admin --password-stdin`.
func (i *Instance) Bootstrap(ctx context.Context) (admin.BootstrapResult, error) {
	email := i.Config.Bootstrap.AdminEmail
	if !i.Config.Dev {
		email = ""
	}
	return i.Admin.Bootstrap(ctx, i.Config.Bootstrap.Organization, email)
}

// keyMaxAge is how long a signing key signs before the scheduled rotation
// replaces it.
const keyMaxAge = 90 * 24 * time.Hour

// samlKeyMaxAge is zero: SAML keys are not rotated on a schedule. Many
// service providers have the IdP certificate pasted in by hand and would
// stop accepting assertions at a rotation nobody announced; the operator
// rotates with `gatehouse keys rotate --use saml` (published a week
// ahead). Maintenance still ensures a key and prunes expired ones.
const samlKeyMaxAge = 0

// RunMaintenance rotates due signing keys, refreshes SAML metadata fetched
// from URLs when due, and deletes expired rows every
// interval until ctx ends. Every instance may run it: both are safe to run
// concurrently.
func (i *Instance) RunMaintenance(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := i.Keys.Maintain(ctx, keyMaxAge); err != nil {
				i.Logger.WarnContext(ctx, "signing key maintenance", "err", err)
			}
			if err := i.SAMLKeys.Maintain(ctx, samlKeyMaxAge); err != nil {
				i.Logger.WarnContext(ctx, "SAML signing key maintenance", "err", err)
			}
			// Metadata URLs due for a fetch; one that keeps failing is
			// tried again at each tick, the stored metadata standing.
			if err := i.Admin.RefreshDueMetadata(ctx, i.Config.SAML.MetadataRefresh); err != nil {
				i.Logger.WarnContext(ctx, "SAML metadata refresh", "err", err)
			}
			n, err := i.Store.DeleteExpired(ctx, i.Now())
			if err != nil {
				i.Logger.WarnContext(ctx, "delete expired rows", "err", err)
				continue
			}
			if n > 0 {
				i.Logger.InfoContext(ctx, "deleted expired rows", "count", n)
			}
		}
	}
}
