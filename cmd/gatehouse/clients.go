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
)

// clientFlags holds the flag values of the clients commands.
type clientFlags struct {
	id, name                  string
	redirectURIs, postLogout  multiFlag
	grants, scopes            multiFlag
	public, requireMFA        bool
	secretStdin               bool
	idTokenAlg, accessFormat  string
	accessTTL, idTTL, refresh time.Duration
}

const clientsCreateUsage = "--id ID --redirect-uri URI [--redirect-uri URI]... [--post-logout-redirect-uri URI]... " +
	"[--public] [--grant GRANT]... [--scope SCOPE]... [--name NAME] [--id-token-alg ALG] [--access-token-format FORMAT] " +
	"[--require-mfa] [--secret-stdin]"

func clientsCreateFlags(fs *flag.FlagSet, c *cmdEnv) {
	f := &c.clients
	fs.StringVar(&f.id, "id", "", "client id: letters, digits, '.', '_', '-' (required)")
	fs.StringVar(&f.name, "name", "", "name shown to users (default: the id)")
	fs.Var(&f.redirectURIs, "redirect-uri", "redirect URI, matched exactly (repeatable; required for authorization_code)")
	fs.Var(&f.postLogout, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	fs.Var(&f.grants, "grant", "grant type: authorization_code, refresh_token, client_credentials (repeatable; default authorization_code and refresh_token)")
	fs.Var(&f.scopes, "scope", "allowed scope (repeatable; default openid, profile, email, offline_access)")
	fs.BoolVar(&f.public, "public", false, "public client (SPA or native app): no secret, PKCE required")
	fs.BoolVar(&f.requireMFA, "require-mfa", false, "issue tokens only after a second factor")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "ID token signing algorithm: RS256 (default), ES256 or EdDSA")
	fs.StringVar(&f.accessFormat, "access-token-format", "", "access token format: opaque (default) or jwt")
	fs.DurationVar(&f.accessTTL, "access-token-ttl", 0, "access token lifetime (default 1h)")
	fs.DurationVar(&f.idTTL, "id-token-ttl", 0, "ID token lifetime (default 1h)")
	fs.DurationVar(&f.refresh, "refresh-token-ttl", 0, "refresh token lifetime (default 720h)")
	fs.BoolVar(&f.secretStdin, "secret-stdin", false, "read the client secret (at least 32 characters) from standard input; without it one is generated and printed once")
}

func clientsListFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.BoolVar(&c.asJSON, "json", false, "print JSON lines")
}

func clientsDeleteFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.clients.id, "id", "", "client id (required)")
}

func clientsRotateFlags(fs *flag.FlagSet, c *cmdEnv) {
	fs.StringVar(&c.clients.id, "id", "", "client id (required)")
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
	f := c.clients
	if f.id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	var supplied string
	if f.secretStdin {
		if f.public {
			return fmt.Errorf("%w: --secret-stdin and --public exclude each other: a public client has no secret", errUsage)
		}
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
	cl, secret, err := inst.Admin.CreateClient(ctx, actor(), admin.ClientInput{
		ID: f.id, Name: f.name, Secret: supplied, Public: f.public,
		RedirectURIs: f.redirectURIs, PostLogoutRedirectURIs: f.postLogout, GrantTypes: f.grants, Scopes: f.scopes,
		IDTokenSignedResponseAlg: f.idTokenAlg, AccessTokenFormat: f.accessFormat,
		AccessTokenTTL: f.accessTTL, IDTokenTTL: f.idTTL, RefreshTokenTTL: f.refresh, RequireMFA: f.requireMFA,
	})
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
	if c.clients.id == "" {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	if err := inst.Admin.DeleteClient(ctx, actor(), c.clients.id); err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "deleted client %s\n", c.clients.id)
	return nil
}

func runClientsRotateSecret(ctx context.Context, c *cmdEnv) error {
	if c.clients.id == "" {
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
	secret, err := inst.Admin.RotateClientSecret(ctx, actor(), c.clients.id, supplied)
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintf(c.io.out, "rotated the secret of client %s; the old secret no longer works\n", c.clients.id)
	printSecretOnce(c.io.out, secret)
	return nil
}
