package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/clients"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Where a client comes from (storage.Client.Source).
const (
	// SourceConfig clients are declared in the config file and reconciled
	// on every start; the file is their only source of truth.
	SourceConfig = "config"
	// SourceAPI clients are created at runtime by the CLI or the admin API.
	SourceAPI = "api"
)

// inputError turns the problems idp/clients found in one input into the
// *InputError the CLI and the API show: all of them, on one line, each
// naming its field.
func inputError(prefix string, err error) error {
	problems := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		problems = j.Unwrap()
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return &InputError{Msg: prefix + strings.Join(msgs, "; ")}
}

func clientNotFound(id string) error {
	return &InputError{Msg: fmt.Sprintf("no client with id %q", id), Err: storage.ErrNotFound}
}

// CreateClient registers a runtime ("api") client. For a confidential
// client it generates a secret unless in.Secret supplies one; the generated
// secret is returned once and only its hash is stored. secret is empty
// when the caller supplied it (they already know it) or the client is
// public.
func (s *Service) CreateClient(ctx context.Context, actor string, in clients.Input) (c storage.Client, secret string, err error) {
	if !in.Public && in.Secret == "" {
		in.Secret = clients.NewSecret()
		secret = in.Secret
	}
	c, err = in.Client()
	if err != nil {
		return storage.Client{}, "", inputError("", err)
	}
	now := s.Now()
	c.Source, c.CreatedAt, c.UpdatedAt = SourceAPI, now, now
	if err := s.Store.CreateClient(ctx, c); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return storage.Client{}, "", conflictErr("a client with id %q already exists", c.ID)
		}
		return storage.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientCreated, ActorID: actor, ClientID: c.ID,
		Details: clientAuditDetails(c)}); err != nil {
		return c, "", err
	}
	return c, secret, nil
}

func clientAuditDetails(c storage.Client) map[string]string {
	return map[string]string{"source": c.Source, "public": fmt.Sprint(c.Public),
		"grant_types": strings.Join(c.GrantTypes, " "), "redirect_uris": strings.Join(c.RedirectURIs, " ")}
}

// ListClients lists every client, ordered by id. The rows carry secret
// hashes: callers show them through ViewClient.
func (s *Service) ListClients(ctx context.Context) ([]storage.Client, error) {
	cs, err := s.Store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// GetClient returns one client; an unknown id is an *InputError wrapping
// storage.ErrNotFound.
func (s *Service) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := s.Store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Client{}, clientNotFound(id)
	} else if err != nil {
		return storage.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// configManaged is the error, an InputError wrapping storage.ErrConflict,
// returned when the CLI or API tries to change a config client:
// the next start would silently undo the change.
func configManaged(id string) error {
	return conflictErr("client %q is declared in the config file; change it there", id)
}

// DeleteClient deletes a runtime client. Config clients are refused.
//
// Tokens already issued to the client are not revoked here (storage has no
// per-client revocation yet); the token and introspection endpoints must
// look the client up and refuse tokens of a client that no longer exists.
func (s *Service) DeleteClient(ctx context.Context, actor, id string) error {
	c, err := s.GetClient(ctx, id)
	if err != nil {
		return err
	}
	if c.Source == SourceConfig {
		return configManaged(id)
	}
	if err := s.Store.DeleteClient(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return clientNotFound(id)
	} else if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientDeleted, ActorID: actor, ClientID: id,
		Details: map[string]string{"source": c.Source}})
}

// RotateClientSecret replaces a confidential runtime client's secret, at
// once: the old secret stops working with this call. supplied, when not
// empty, is the new secret (see clients.CheckSecret);
// otherwise one is generated and returned, once. newSecret is empty when
// supplied was used.
func (s *Service) RotateClientSecret(ctx context.Context, actor, id, supplied string) (newSecret string, err error) {
	plain := supplied
	if plain == "" {
		plain = clients.NewSecret()
		newSecret = plain
	} else if err := clients.CheckSecret(plain); err != nil {
		return "", &InputError{Msg: err.Error()}
	}
	hash := storage.HashSecret(plain)
	now := s.Now()
	_, err = s.Store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
		if c.Source == SourceConfig {
			return c, configManaged(id)
		}
		if c.Public {
			return c, inputErr("client %q is public and has no secret", id)
		}
		c.SecretHash, c.UpdatedAt = hash, now
		return c, nil
	})
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return "", ie
	case errors.Is(err, storage.ErrNotFound):
		return "", clientNotFound(id)
	case err != nil:
		return "", fmt.Errorf("rotate client secret: %w", err)
	}
	if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientSecretRotated, ActorID: actor, ClientID: id,
		Details: map[string]string{"generated": fmt.Sprint(supplied == "")}}); err != nil {
		return "", err
	}
	return newSecret, nil
}

// configActor is the audit actor of changes made by reconciliation.
const configActor = "config"

// errUnchanged aborts an update that would write nothing, so an unchanged
// config file costs no writes and no audit events on every start.
var errUnchanged = errors.New("unchanged")

// ReconcileConfigClients makes the config clients in storage match inputs,
// the clients declared in the config file: missing ones are created,
// changed ones updated, and config clients no longer declared deleted.
// Runtime ("api") clients are never touched; a declared id that belongs to
// one is an error. Every input is validated before anything changes, and
// all problems are reported together. Config clients must supply their
// secret: a generated one would never be shown to anyone.
//
// It runs on every start, possibly on several instances at once; each step
// tolerates another instance having done it first.
func (s *Service) ReconcileConfigClients(ctx context.Context, inputs []clients.Input) error {
	existing, err := s.ListClients(ctx)
	if err != nil {
		return fmt.Errorf("reconcile config clients: %w", err)
	}
	byID := map[string]storage.Client{}
	for _, c := range existing {
		byID[c.ID] = c
	}
	ids := make([]string, len(inputs))
	for i, in := range inputs {
		ids[i] = in.ID
	}
	dups := clients.CheckUniqueIDs(ids)
	var errs []error
	want := make([]storage.Client, 0, len(inputs))
	seen := map[string]bool{}
	for i, in := range inputs {
		prefix := fmt.Sprintf("clients[%d] (id %q): ", i, in.ID)
		if dups[i] != nil {
			errs = append(errs, inputError(prefix, dups[i]))
			continue
		}
		seen[in.ID] = true
		c, err := in.DeclaredClient()
		if err != nil {
			errs = append(errs, inputError(prefix, err))
			continue
		}
		if old := byID[c.ID]; old.ID != "" && old.Source != SourceConfig {
			errs = append(errs, &InputError{Msg: prefix + "a client with this id was created through the CLI or admin API; " +
				"delete it or rename the config entry", Err: storage.ErrConflict})
		}
		c.Source = SourceConfig
		want = append(want, c)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config clients: %w", errors.Join(errs...))
	}
	for _, c := range want {
		if err := s.reconcileOne(ctx, c, byID[c.ID].ID != ""); err != nil {
			return fmt.Errorf("reconcile config client %q: %w", c.ID, err)
		}
	}
	for _, old := range existing {
		if old.Source != SourceConfig || seen[old.ID] {
			continue
		}
		err := s.Store.DeleteClient(ctx, old.ID)
		if errors.Is(err, storage.ErrNotFound) {
			continue // another instance deleted it
		} else if err != nil {
			return fmt.Errorf("reconcile config clients: delete %q: %w", old.ID, err)
		}
		if err := s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientDeleted, ActorID: configActor, ClientID: old.ID,
			Details: map[string]string{"source": SourceConfig}}); err != nil {
			return err
		}
	}
	return nil
}

// reconcileOne creates or updates one config client. exists is a hint from
// the listing; a concurrent start may have changed the truth since.
func (s *Service) reconcileOne(ctx context.Context, want storage.Client, exists bool) error {
	now := s.Now()
	if !exists {
		c := want
		c.CreatedAt, c.UpdatedAt = now, now
		err := s.Store.CreateClient(ctx, c)
		if err == nil {
			return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientCreated, ActorID: configActor, ClientID: c.ID,
				Details: clientAuditDetails(c)})
		}
		if !errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("create: %w", err)
		}
		// Another instance created it first: fall through and update.
	}
	var changed []string
	_, err := s.Store.UpdateClient(ctx, want.ID, func(old storage.Client) (storage.Client, error) {
		if old.Source != SourceConfig {
			return old, conflictErr("a client with this id was created through the CLI or admin API")
		}
		changed = clientChanges(old, want)
		if len(changed) == 0 {
			return old, errUnchanged
		}
		next := want
		next.OrgID, next.CreatedAt, next.UpdatedAt = old.OrgID, old.CreatedAt, now
		return next, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case err != nil:
		return fmt.Errorf("update: %w", err)
	}
	return s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientUpdated, ActorID: configActor, ClientID: want.ID,
		Details: map[string]string{"source": SourceConfig, "changed": strings.Join(changed, " ")}})
}

// clientChanges names the settings that differ between a and b. The secret
// shows as "secret", never its hash.
func clientChanges(a, b storage.Client) []string {
	var out []string
	add := func(name string, differs bool) {
		if differs {
			out = append(out, name)
		}
	}
	add("name", a.Name != b.Name)
	add("secret", a.SecretHash != b.SecretHash)
	add("public", a.Public != b.Public)
	add("redirect_uris", !slices.Equal(a.RedirectURIs, b.RedirectURIs))
	add("post_logout_redirect_uris", !slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs))
	add("grant_types", !slices.Equal(a.GrantTypes, b.GrantTypes))
	add("scopes", !slices.Equal(a.Scopes, b.Scopes))
	add("id_token_signed_response_alg", a.IDTokenSignedResponseAlg != b.IDTokenSignedResponseAlg)
	add("access_token_format", a.AccessTokenFormat != b.AccessTokenFormat)
	add("access_token_ttl", a.AccessTokenTTL != b.AccessTokenTTL)
	add("id_token_ttl", a.IDTokenTTL != b.IDTokenTTL)
	add("refresh_token_ttl", a.RefreshTokenTTL != b.RefreshTokenTTL)
	add("require_mfa", a.RequireMFA != b.RequireMFA)
	add("initiate_login_uri", a.InitiateLoginURI != b.InitiateLoginURI)
	return out
}

// ClientView is how a client is shown to operators (CLI JSON, admin API).
// It has no secret hash field at all, so no caller can leak one by
// accident.
type ClientView struct {
	ID                       string    `json:"id"`
	Name                     string    `json:"name"`
	Public                   bool      `json:"public"`
	HasSecret                bool      `json:"has_secret"`
	RedirectURIs             []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string  `json:"post_logout_redirect_uris"`
	GrantTypes               []string  `json:"grant_types"`
	Scopes                   []string  `json:"scopes"`
	IDTokenSignedResponseAlg string    `json:"id_token_signed_response_alg"`
	AccessTokenFormat        string    `json:"access_token_format"`
	AccessTokenTTL           string    `json:"access_token_ttl"`
	IDTokenTTL               string    `json:"id_token_ttl"`
	RefreshTokenTTL          string    `json:"refresh_token_ttl"`
	RequireMFA               bool      `json:"require_mfa"`
	InitiateLoginURI         string    `json:"initiate_login_uri,omitempty"`
	Source                   string    `json:"source"`
	CreatedAt                time.Time `json:"created_at"`
	UpdatedAt                time.Time `json:"updated_at"`
}

// ViewClient returns c as shown to operators. Lists are never null in
// JSON, and TTLs are Go duration strings ("1h0m0s"), the same syntax the
// config file and the API accept.
func ViewClient(c storage.Client) ClientView {
	alg := c.IDTokenSignedResponseAlg
	if alg == "" {
		alg = clients.DefaultIDTokenAlg
	}
	return ClientView{
		ID: c.ID, Name: c.Name, Public: c.Public, HasSecret: c.SecretHash != "",
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes),
		IDTokenSignedResponseAlg: alg, AccessTokenFormat: c.AccessTokenFormat,
		AccessTokenTTL: c.AccessTokenTTL.String(), IDTokenTTL: c.IDTokenTTL.String(), RefreshTokenTTL: c.RefreshTokenTTL.String(),
		RequireMFA: c.RequireMFA, InitiateLoginURI: c.InitiateLoginURI, Source: c.Source, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// UpdateClient changes a runtime client's settings: edit receives them as
// a clients.Input and changes what it means to, and the result passes the
// same rules as a new client. The id, the kind (public or confidential)
// and the secret stay (RotateClientSecret replaces the secret); config
// clients belong to the file. edit may run more than once and must only
// set fields.
func (s *Service) UpdateClient(ctx context.Context, actor, id string, edit func(*clients.Input)) (storage.Client, error) {
	now := s.Now()
	var changed []string
	c, err := s.Store.UpdateClient(ctx, id, func(old storage.Client) (storage.Client, error) {
		if old.Source == SourceConfig {
			return old, configManaged(id)
		}
		in := clients.InputOf(old)
		edit(&in)
		in.ID, in.Public, in.Secret = old.ID, old.Public, ""
		next, err := in.Client()
		if err != nil {
			return old, inputError("", err)
		}
		next.SecretHash, next.OrgID, next.Source, next.CreatedAt = old.SecretHash, old.OrgID, old.Source, old.CreatedAt
		if changed = clientChanges(old, next); len(changed) == 0 {
			return old, errUnchanged
		}
		next.UpdatedAt = now
		return next, nil
	})
	var ie *InputError
	switch {
	case errors.Is(err, errUnchanged):
		return s.Store.GetClient(ctx, id)
	case errors.As(err, &ie):
		return storage.Client{}, ie
	case errors.Is(err, storage.ErrNotFound):
		return storage.Client{}, clientNotFound(id)
	case err != nil:
		return storage.Client{}, fmt.Errorf("update client: %w", err)
	}
	return c, s.Audit.Record(ctx, storage.AuditEvent{Type: audit.ClientUpdated, ActorID: actor, ClientID: id,
		Details: map[string]string{"source": c.Source, "changed": strings.Join(changed, " ")}})
}
