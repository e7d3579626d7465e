package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
)

// clientFlags holds the flag values of the clients commands. The create
// flags fill in a clients.Input directly, so that the CLI declares no
// client field of its own; the help texts quote idp/clients' defaults.
type clientFlags struct {
	in          clients.Input
	secretStdin bool
}

const clientsCreateUsage = "--id ID --redirect-uri URI [--redirect-uri URI]... [--post-logout-redirect-uri URI]... " +
	"[--public] [--grant GRANT]... [--scope SCOPE]... [--name NAME] [--id-token-alg ALG] [--access-token-format FORMAT] " +
	"[--require-mfa] [--initiate-login-uri URL] [--secret-stdin]"

func clientsCreateFlags(fs *flag.FlagSet, c *cmdEnv) {
	clientSettingFlags(fs, c)
	fs.BoolVar(&c.clients.in.Public, "public", false, "public client (SPA or native app): no secret, PKCE required")
	fs.BoolVar(&c.clients.secretStdin, "secret-stdin", false, fmt.Sprintf("read the client secret (at least %d characters) "+
		"from standard input; without it one is generated and printed once", clients.MinSecretLen))
}

const clientsUpdateUsage = "--id ID [--name NAME] [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--grant GRANT]... " +
	"[--scope SCOPE]... [--id-token-alg ALG] [--access-token-format FORMAT] [--require-mfa=true|false] [--initiate-login-uri URL] [--*-ttl DURATION]"

// clientsUpdateFlags are the settings clients create takes, but for the
// kind (public or not) and the secret (clients rotate-secret).
func clientsUpdateFlags(fs *flag.FlagSet, c *cmdEnv) { clientSettingFlags(fs, c) }

// clientSettingFlags are the client's settings, shared by create and
// update; on update a repeatable flag given once or more replaces the
// whole list.
func clientSettingFlags(fs *flag.FlagSet, c *cmdEnv) {
	in := &c.clients.in
	fs.StringVar(&in.ID, "id", "", "client id: letters, digits, '.', '_', '-' (required)")
	fs.StringVar(&in.Name, "name", "", "name shown to users (default: the id)")
	fs.Var((*multiFlag)(&in.RedirectURIs), "redirect-uri", "redirect URI, matched exactly (repeatable; required for authorization_code)")
	fs.Var((*multiFlag)(&in.PostLogoutRedirectURIs), "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	fs.Var((*multiFlag)(&in.GrantTypes), "grant", fmt.Sprintf("grant type: %s, %s, %s (repeatable; default %s)",
		clients.GrantAuthorizationCode, clients.GrantRefreshToken, clients.GrantClientCredentials, strings.Join(clients.DefaultGrantTypes, " and ")))
	fs.Var((*multiFlag)(&in.Scopes), "scope", "allowed scope (repeatable; default "+strings.Join(clients.DefaultScopes, ", ")+")")
	fs.BoolVar(&in.RequireMFA, "require-mfa", false, "issue tokens only after a second factor")
	fs.StringVar(&in.InitiateLoginURI, "initiate-login-uri", "", "https URL that starts a sign-in into the client, linked from My apps (/me/apps)")
	fs.StringVar(&in.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token signing algorithm: "+clients.DefaultIDTokenAlg+" (default), ES256 or EdDSA")
	fs.StringVar(&in.AccessTokenFormat, "access-token-format", "", fmt.Sprintf("access token format: %s (default) or %s",
		clients.AccessTokenOpaque, clients.AccessTokenJWT))
	fs.DurationVar(&in.AccessTokenTTL, "access-token-ttl", 0, fmt.Sprintf("access token lifetime (default %v)", clients.DefaultAccessTokenTTL))
	fs.DurationVar(&in.IDTokenTTL, "id-token-ttl", 0, fmt.Sprintf("ID token lifetime (default %v)", clients.DefaultIDTokenTTL))
	fs.DurationVar(&in.RefreshTokenTTL, "refresh-token-ttl", 0, fmt.Sprintf("refresh token lifetime (default %v)", clients.DefaultRefreshTokenTTL))
}

func clientsListFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
}

func clientsDeleteFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.clients.in.ID, "id", "", "client id (required)")
}

func clientsRotateFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.clients.in.ID, "id", "", "client id (required)")
	fs.BoolVar(&c.clients.secretStdin, "secret-stdin", false, "read the new secret from standard input; without it one is generated and printed once")
}

// readClientSecret takes the first line of standard input for
// --secret-stdin, like readPassword: a trailing newline is not part of the
// secret. The length rule is the service's.
func readClientSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxPasswordInput)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read client secret from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--secret-stdin: standard input held no secret")
	}
	return line, nil
}

func runClientsCreate(ctx context.Context, c *cmdEnv) error {
	in := c.clients.in
	if in.ID == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	if c.clients.secretStdin {
		if in.Public {
			return fmt.Errorf("%w: --secret-stdin and --public exclude each other: a public client has no secret", errUsage)
		}
		var err error
		if in.Secret, err = readClientSecret(c.io.in); err != nil {
			return err
		}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	cl, secret, err := inst.Admin.CreateClient(ctx, actor(), in)
	if err != nil {
		return inputOrErr(err)
	}
	kind := "confidential"
	if cl.Public {
		kind = "public"
	}
	fmt.Fprintf(c.io.out, "created %s client %s (grants: %s)\n", kind, cl.ID, strings.Join(cl.GrantTypes, ", "))
	printSecretOnce(c.io.out, secret)
	return nil
}

// printSecretOnce prints a generated secret on a line of its own, with a
// fixed label scripts can find, and says it will not be shown again: only
// its hash is stored.
func printSecretOnce(w io.Writer, secret string) {
	if secret == "" {
		return
	}
	fmt.Fprintf(w, "client_secret: %s\n", secret)
	fmt.Fprintln(w, "Store this secret now: it is shown only once and cannot be recovered (rotate it if lost).")
}

func runClientsList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	cs, err := inst.Admin.ListClients(ctx)
	if err != nil {
		return err
	}
	l := newListing(c, "ID\tNAME\tTYPE\tSOURCE\tGRANTS\tREDIRECT URIS\tCREATED")
	for _, cl := range cs {
		// Through ViewClient only: it has no field for the secret hash.
		v := admin.ViewClient(cl)
		kind := "confidential"
		if v.Public {
			kind = "public"
		}
		if err := l.add(v, v.ID, v.Name, kind, v.Source, strings.Join(v.GrantTypes, ","),
			strings.Join(v.RedirectURIs, " "), v.CreatedAt.Format(time.RFC3339)); err != nil {
			return err
		}
	}
	return l.flush()
}

func runClientsDelete(ctx context.Context, c *cmdEnv) error {
	if c.clients.in.ID == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if err := inst.Admin.DeleteClient(ctx, actor(), c.clients.in.ID); err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "deleted client %s\n", c.clients.in.ID)
	return nil
}

func runClientsRotateSecret(ctx context.Context, c *cmdEnv) error {
	if c.clients.in.ID == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	var supplied string
	if c.clients.secretStdin {
		var err error
		if supplied, err = readClientSecret(c.io.in); err != nil {
			return err
		}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	secret, err := inst.Admin.RotateClientSecret(ctx, actor(), c.clients.in.ID, supplied)
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "rotated the secret of client %s; the old secret no longer works\n", c.clients.in.ID)
	printSecretOnce(c.io.out, secret)
	return nil
}

func runClientsUpdate(ctx context.Context, c *cmdEnv) error {
	given := c.clients.in
	if given.ID == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	if applyGiven(&clients.Input{}, given, c.set) == 0 {
		return fmt.Errorf("%w: give at least one setting to change", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	cl, err := inst.Admin.UpdateClient(ctx, actor(), given.ID, func(in *clients.Input) { applyGiven(in, given, c.set) })
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "updated client %s (grants: %s; redirect URIs: %s)\n", cl.ID,
		strings.Join(cl.GrantTypes, ", "), strings.Join(cl.RedirectURIs, " "))
	return nil
}

// applyGiven copies into in the settings the command line gave, and says
// how many.
func applyGiven(in *clients.Input, given clients.Input, set map[string]bool) int {
	n := 0
	for flagName, apply := range map[string]func(){
		"name":                     func() { in.Name = given.Name },
		"redirect-uri":             func() { in.RedirectURIs = given.RedirectURIs },
		"post-logout-redirect-uri": func() { in.PostLogoutRedirectURIs = given.PostLogoutRedirectURIs },
		"grant":                    func() { in.GrantTypes = given.GrantTypes },
		"scope":                    func() { in.Scopes = given.Scopes },
		"require-mfa":              func() { in.RequireMFA = given.RequireMFA },
		"initiate-login-uri":       func() { in.InitiateLoginURI = given.InitiateLoginURI },
		"id-token-alg":             func() { in.IDTokenSignedResponseAlg = given.IDTokenSignedResponseAlg },
		"access-token-format":      func() { in.AccessTokenFormat = given.AccessTokenFormat },
		"access-token-ttl":         func() { in.AccessTokenTTL = given.AccessTokenTTL },
		"id-token-ttl":             func() { in.IDTokenTTL = given.IDTokenTTL },
		"refresh-token-ttl":        func() { in.RefreshTokenTTL = given.RefreshTokenTTL },
	} {
		if set[flagName] {
			apply()
			n++
		}
	}
	return n
}
