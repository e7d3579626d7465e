package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// errUsage marks a mistake in the command line; run prints usage and exits 2.
var errUsage = errors.New("usage")

type command struct {
	name    string // "serve", "users create"
	summary string
	usage   string // argument synopsis
	run     func(ctx context.Context, c *cmdEnv) error
	// flags adds the command's own flags; common flags are added for all.
	flags func(fs *flag.FlagSet, c *cmdEnv)
	// noStore: the command does not open storage (version, help).
	noStore bool
}

// cmdEnv is what a command runs with: parsed flags, I/O, environment.
type cmdEnv struct {
	io      stdio
	environ []string
	common  commonFlags
	args    []string
	// command-specific flag values
	email, org, name, displayName string
	phone                         string // users create/update --phone, sms test --to
	domains                       multiFlag
	passwordStdin, admin, asJSON  bool
	emailVerified, invite         bool
	addr                          string
	role                          string
	alg, use                      string
	file                          string
	clients                       clientFlags
	policy                        policyFlags
	mfa                           mfaFlags
	bench                         benchFlags
	conn                          connectorFlags
	saml                          spFlags
	// set names the flags the command line gave, for commands that
	// change only what was asked (clients update).
	set map[string]bool
}

type commonFlags struct {
	configPath string
	dataDir    string
	dev        bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func commands() []command {
	return append([]command{
		{name: "serve", summary: "run the identity provider", run: runServe,
			flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.addr, "addr", "", "listen address, overrides server.addr (e.g. 127.0.0.1:8080)")
			}},
		{name: "migrate", summary: "apply pending database migrations", run: runMigrate},
		{name: "version", summary: "print the version", run: runVersion, noStore: true},
		{name: "users create", summary: "create a user", usage: "--email EMAIL [--org ORG] [--name NAME] [--phone NUMBER] [--admin] [--password-stdin | --invite]",
			run: runUsersCreate, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
				fs.StringVar(&c.org, "org", "", "organization name (default: bootstrap.organization)")
				fs.StringVar(&c.name, "name", "", "display name")
				fs.StringVar(&c.phone, "phone", "", phoneFlagHelp)
				fs.BoolVar(&c.admin, "admin", false, "grant the admin role")
				fs.BoolVar(&c.emailVerified, "email-verified", false, "mark the email as verified")
				fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from standard input; without it the user is created invited, with no password")
				fs.BoolVar(&c.invite, "invite", false, "email the user a welcome link to set their password (invite.ttl, default 72h)")
			}},
		{name: "users update", summary: "change a user's profile: name, phone (each flag given changes one)", usage: usersUpdateUsage,
			run: runUsersUpdate, flags: usersUpdateFlags},
		{name: "users resend-invite", summary: "email an invited user a new welcome link (voids the old one)", usage: "--email EMAIL",
			run: runUsersResendInvite, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users send-reset", summary: "email a user a password-reset link (not held back by the minimum password age)", usage: "--email EMAIL",
			run: runUsersSendReset, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users list", summary: "list users", usage: "[--org ORG] [--json]", run: runUsersList,
			flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.org, "org", "", "only this organization")
				fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
			}},
		{name: "users disable", summary: "disable a user and end their sessions and tokens", usage: "--email EMAIL",
			run: runUsersDisable, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users import", summary: "create users from another IdP, keeping their password hashes", usage: "--file USERS.jsonl [--org ORG]",
			run: runUsersImport, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.file, "file", "", `JSON lines: {"email", "name", "org", "email_verified", "password_hash"} (argon2id PHC or bcrypt; "-" reads standard input)`)
				fs.StringVar(&c.org, "org", "", "organization of entries that name none (default: bootstrap.organization)")
			}},
		{name: "users set-password", summary: "set a user's password (ends their sessions and tokens)", usage: "--email EMAIL --password-stdin",
			run: runUsersSetPassword, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
				fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the password from standard input (required)")
			}},
		{name: "users enable", summary: "let a disabled or locked user sign in again", usage: "--email EMAIL",
			run: runUsersEnable, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users show", summary: "show a user: state, roles, factors, lockout, last sign-in", usage: "--email EMAIL [--json]",
			run: runUsersShow, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
				fs.BoolVar(&c.asJSON, "json", false, "print JSON")
			}},
		{name: "users unlock", summary: "lift a temporary lock after failed sign-ins and reset the count", usage: "--email EMAIL",
			run: runUsersUnlock, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users delete", summary: "delete a user with their sessions and tokens", usage: "--email EMAIL",
			run: runUsersDelete, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.email, "email", "", "the user's email address (required)")
			}},
		{name: "users reset-mfa", summary: "remove users' second factors, end their sessions and tokens, and make their next sign-in set one up",
			usage: resetMFAUsage, run: runUsersResetMFA, flags: resetMFAFlags},
		{name: "users grant", summary: "give a user a role: admin, or org-admin of an organization", usage: roleUsage,
			run: runUsersGrant, flags: roleFlags},
		{name: "users revoke", summary: "take a role from a user", usage: roleUsage, run: runUsersRevoke, flags: roleFlags},
		{name: "orgs create", summary: "create an organization", usage: "--name NAME [--display-name TEXT] [--domain DOMAIN]...",
			run: runOrgsCreate, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.name, "name", "", "organization name: lower-case letters, digits, hyphens (required)")
				fs.StringVar(&c.displayName, "display-name", "", "name shown to people")
				fs.Var(&c.domains, "domain", "email domain owned by the organization (repeatable)")
			}},
		{name: "orgs list", summary: "list organizations", usage: "[--json]", run: runOrgsList,
			flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
			}},
		{name: "orgs show", summary: "show an organization, its MFA policy and its effective password policy", usage: "--org ORG [--json]",
			run: runOrgsShow, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.org, "org", "", "organization name (required)")
				fs.StringVar(&c.name, "name", "", "the same as --org (the older name of the flag)")
				fs.BoolVar(&c.asJSON, "json", false, "print JSON")
			}},
		{name: "orgs set-mfa", summary: "require two-step sign-in in an organization, with the methods allowed, or turn it off",
			usage: setMFAUsage, run: runOrgsSetMFA, flags: setMFAFlags},
		{name: "orgs set-password-policy", summary: "change an organization's password policy (each flag given changes one setting)",
			usage: setPolicyUsage, run: runOrgsSetPasswordPolicy, flags: setPolicyFlags},
		{name: "orgs delete", summary: "delete an organization that has no users", usage: "--name NAME",
			run: runOrgsDelete, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.name, "name", "", "organization name (required)")
			}},
		{name: "keys rotate", summary: "publish new signing keys; they sign after the publish-ahead delay (OIDC 10m, SAML 7 days)",
			usage: "[--use oidc|saml] [--alg RS256|ES256|EdDSA]", run: runKeysRotate, flags: func(fs *flag.FlagSet, c *cmdEnv) {
				fs.StringVar(&c.use, "use", "oidc", "which keys: oidc (tokens) or saml (assertions, always RS256)")
				fs.StringVar(&c.alg, "alg", "", "rotate only this OIDC algorithm (default: all)")
			}},
		{name: "keys list", summary: "list signing keys (OIDC and SAML) and their state", run: runKeysList},
		{name: "clients create", summary: "register an OIDC client (relying party)", usage: clientsCreateUsage,
			run: runClientsCreate, flags: clientsCreateFlags},
		{name: "clients list", summary: "list OIDC clients", usage: "[--json]", run: runClientsList, flags: clientsListFlags},
		{name: "clients update", summary: "change an OIDC client's settings (each flag given replaces one)", usage: clientsUpdateUsage,
			run: runClientsUpdate, flags: clientsUpdateFlags},
		{name: "clients delete", summary: "delete an OIDC client", usage: "--id ID", run: runClientsDelete, flags: clientsDeleteFlags},
		{name: "clients rotate-secret", summary: "replace a client's secret", usage: "--id ID [--secret-stdin]",
			run: runClientsRotateSecret, flags: clientsRotateFlags},
		{name: "mail test", summary: "send a test email with the configured settings and print the server's answer", usage: mailTestUsage,
			run: runMailTest, flags: mailTestFlags},
		{name: "sms test", summary: "send a test SMS with the configured settings and print the gateway's answer", usage: smsTestUsage,
			run: runSMSTest, flags: smsTestFlags},
	}, slices.Concat(connectorCommands(), samlCommands(), benchCommands())...)
}

func run(ctx context.Context, args []string, io stdio, environ []string) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			args = append(args[1:], "--help")
			return run(ctx, args, io, environ)
		}
		printOverview(io.out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest, ok := findCommand(args)
	if !ok {
		fmt.Fprintf(io.err, "gatehouse: unknown command %q\n\n", strings.Join(args[:min(len(args), 2)], " "))
		printNoun(io.err, args[0])
		return 2
	}
	c := &cmdEnv{io: io, environ: environ}
	fs := flag.NewFlagSet("gatehouse "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	if !cmd.noStore {
		fs.StringVar(&c.common.configPath, "config", "", "config file (YAML); without it, the dev defaults apply")
		fs.StringVar(&c.common.dataDir, "data-dir", "", "data directory, overrides data_dir (default ./gatehouse-data)")
		fs.BoolVar(&c.common.dev, "dev", false, "dev mode: http://localhost issuer, generated master key, bootstrap admin")
	}
	if cmd.flags != nil {
		cmd.flags(fs, c)
	}
	fs.Usage = func() {
		fmt.Fprintf(io.err, "Usage: gatehouse %s [flags] %s\n\n%s.\n\nFlags:\n", cmd.name, cmd.usage, capitalize(cmd.summary))
		fs.PrintDefaults()
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	c.args = fs.Args()
	if len(c.args) > 0 {
		fmt.Fprintf(io.err, "gatehouse %s: unexpected argument %q\n", cmd.name, c.args[0])
		fs.Usage()
		return 2
	}
	if err := cmd.run(ctx, c); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintf(io.err, "gatehouse %s: %s\n", cmd.name, strings.TrimPrefix(err.Error(), "usage: "))
			fs.Usage()
			return 2
		}
		fmt.Fprintf(io.err, "gatehouse %s: %s\n", cmd.name, err)
		return 1
	}
	return 0
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

func findCommand(args []string) (command, []string, bool) {
	for _, cmd := range commands() {
		words := strings.Fields(cmd.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cmd.name {
			return cmd, args[len(words):], true
		}
	}
	return command{}, nil, false
}

func printOverview(w io.Writer) {
	fmt.Fprintln(w, "Gatehouse: an OpenID Connect identity provider.")
	fmt.Fprintln(w, "\nUsage: gatehouse <noun> <verb> [flags]\n\nCommands:")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-25s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w, "\nRun 'gatehouse <command> --help' for a command's flags.")
	fmt.Fprintln(w, "Start locally with: gatehouse serve --dev")
}

func printNoun(w io.Writer, noun string) {
	var names []string
	for _, cmd := range commands() {
		if strings.HasPrefix(cmd.name, noun+" ") {
			names = append(names, cmd.name)
		}
	}
	if len(names) == 0 {
		printOverview(w)
		return
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Commands for %q:\n", noun)
	for _, n := range names {
		fmt.Fprintf(w, "  gatehouse %s\n", n)
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// loadConfig builds the config for a command: the file (or, without one,
// the dev defaults, so that management commands act on the local dev
// install), environment overrides, then flags; then validates it.
func (c *cmdEnv) loadConfig(requireFileOrDev bool) (config.Config, error) {
	if c.common.configPath == "" && requireFileOrDev && !c.common.dev {
		return config.Config{}, fmt.Errorf("%w: give --config FILE, or --dev for a local development server", errUsage)
	}
	env := c.environ
	if c.common.configPath == "" || c.common.dev {
		env = append(slices.Clone(env), config.EnvPrefix+"DEV=true")
	}
	cfg, err := config.Load(c.common.configPath, env)
	if err != nil {
		return config.Config{}, err
	}
	if c.common.dataDir != "" {
		cfg.DataDir = c.common.dataDir
	}
	if c.addr != "" {
		cfg.Server.Addr = c.addr
	}
	if err := cfg.Validate(); err != nil {
		return config.Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openInstance loads config, opens storage and ensures the default
// organization exists, for a management command. It never creates a
// database: run from the wrong directory, a command would otherwise make a
// new, empty ./gatehouse-data with a master key of its own and act on it.
func (c *cmdEnv) openInstance(ctx context.Context) (*instance.Instance, error) {
	cfg, err := c.loadConfig(false)
	if err != nil {
		return nil, err
	}
	if err := existingDatabase(cfg); err != nil {
		return nil, err
	}
	inst, err := c.openInstanceNoBootstrap(ctx)
	if err != nil {
		return nil, err
	}
	// Only the organization: an admin created here would have a password
	// nobody sees. `serve --dev` creates the admin when no user exists.
	if _, err := inst.Admin.Bootstrap(ctx, inst.Config.Bootstrap.Organization, ""); err != nil {
		inst.Close()
		return nil, err
	}
	return inst, nil
}

// existingDatabase fails, saying where it looked, unless the SQLite
// database cfg names exists (PostgreSQL databases are made by their
// operators, so a wrong DSN fails to connect by itself).
func existingDatabase(cfg config.Config) error {
	if cfg.Storage.Type == config.StoragePostgres {
		return nil
	}
	path := cfg.SQLitePath()
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot read the database %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return fmt.Errorf("no Gatehouse database at %s: run this where 'gatehouse serve --dev' keeps its data, "+
		"or point at it with --data-dir DIR or --config FILE ('gatehouse migrate' creates a new, empty one)", abs)
}

func (c *cmdEnv) openInstanceNoBootstrap(ctx context.Context) (*instance.Instance, error) {
	cfg, err := c.loadConfig(false)
	if err != nil {
		return nil, err
	}
	// Management commands log warnings only: their output is for people
	// and scripts, and audit records still reach storage.
	logger := slog.New(slog.NewTextHandler(c.io.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return instance.Open(ctx, cfg, withFederation(instance.Options{Logger: logger}))
}

// actor names who ran a management command, for the audit log.
func actor() string {
	u := os.Getenv("USER")
	if u == "" {
		u = "unknown"
	}
	return "cli:" + u
}

func runVersion(_ context.Context, c *cmdEnv) error {
	v := version
	if v == "" {
		bi, _ := debug.ReadBuildInfo()
		v = versionFromBuild(bi)
	}
	fmt.Fprintf(c.io.out, "gatehouse %s\n", v)
	return nil
}

// versionFromBuild names a build without -ldflags: the module version when
// it was installed by version (go install …@v1.2.3), otherwise the commit
// the go tool stamped from the checkout ("devel+1a2b3c4d5e6f", with
// "-dirty" for uncommitted changes), and plain "devel" only when neither
// is known (go run, or a build outside a checkout).
func versionFromBuild(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return "devel+" + rev
}

func inputOrErr(err error) error {
	var ie *admin.InputError
	if errors.As(err, &ie) {
		return errors.New(ie.Msg)
	}
	return err
}
