package storage

import (
	"context"
	"time"
)

// ServiceProvider is a SAML service provider: a relying party of the SAML
// front door (idp/samlidp), known by its entity id.
type ServiceProvider struct {
	EntityID string
	// Name is what the pages call it ("" : the entity id).
	Name string
	// Metadata is the provider's SAML metadata (an EntityDescriptor), as
	// given or as last fetched from MetadataURL; it was checked before it
	// was stored.
	Metadata []byte
	// MetadataURL, when set, is where Metadata is fetched from again on a
	// schedule; MetadataFetchedAt is when that last succeeded, and
	// MetadataError what the last failed attempt said ("" after a success).
	MetadataURL       string
	MetadataFetchedAt time.Time
	MetadataError     string
	Settings          SPSettings
	// Source is "config" for providers declared in the config file (they
	// are reconciled at start) or "api" for runtime-managed ones.
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SPSettings are the per-provider choices of the SAML door, stored as JSON
// so that a new setting needs no schema change (an unset one reads as its
// zero value, which must be the safe default).
type SPSettings struct {
	// NameIDFormats are the NameID formats the provider may get, by short
	// name ("emailAddress", "persistent", "transient", "unspecified"); the
	// first is the one given when the request names none. Empty means
	// persistent only.
	NameIDFormats []string `json:"nameid_formats,omitempty"`
	// Attributes are the attributes of every assertion (empty: the
	// door's defaults).
	Attributes []SAMLAttribute `json:"attributes,omitempty"`
	// AllowIdPInitiated lets users start a sign-in into the provider from
	// Gatehouse (/saml/init, /me/apps); DefaultRelayState is the
	// RelayState such a sign-in carries ("" : none).
	AllowIdPInitiated bool   `json:"allow_idp_initiated,omitempty"`
	DefaultRelayState string `json:"default_relay_state,omitempty"`
	// SignResponse signs the Response as well as the assertion.
	SignResponse bool `json:"sign_response,omitempty"`
	// EncryptAssertions encrypts assertions to the provider's encryption
	// certificate (its metadata must have one).
	EncryptAssertions bool `json:"encrypt_assertions,omitempty"`
	// RequireSignedRequests refuses AuthnRequests and LogoutRequests that
	// are not signed, whatever the metadata says.
	RequireSignedRequests bool `json:"require_signed_requests,omitempty"`
	// RequireMFA demands a second factor of every login to the provider.
	RequireMFA bool `json:"require_mfa,omitempty"`
	// MetadataSigner is the PEM certificate that must sign metadata
	// fetched from MetadataURL: configured, or pinned from the first
	// signed fetch ("" : the metadata is not signed).
	MetadataSigner string `json:"metadata_signer,omitempty"`
}

// The values SPSettings may hold, by the short names stored.
var (
	SAMLNameIDFormats     = []string{"persistent", "emailAddress", "transient", "unspecified"}
	SAMLAttributeSources  = []string{"email", "name", "given_name", "family_name", "groups", "org"}
	SAMLAttributeNameForm = []string{"uri", "basic", "unspecified"}
)

// SAMLAttribute is one attribute of an assertion: Source names the user's
// value ("email", "name", "given_name", "family_name", "groups", "org"),
// Name is the attribute's name as the provider expects it, NameFormat its
// format by short name ("uri", "basic", "unspecified"; "" : uri) and
// FriendlyName an optional label.
type SAMLAttribute struct {
	Source       string `json:"source"`
	Name         string `json:"name"`
	NameFormat   string `json:"name_format,omitempty"`
	FriendlyName string `json:"friendly_name,omitempty"`
}

// SAMLParticipant records that a browser session signed in to a service
// provider: single logout sends that provider a LogoutRequest naming the
// same NameID and SessionIndex.
type SAMLParticipant struct {
	SessionHash  string
	EntityID     string
	NameID       string
	NameIDFormat string
	// SPNameQualifier is the NameID's SPNameQualifier ("" : none).
	SPNameQualifier string
	SessionIndex    string
	CreatedAt       time.Time
	// ExpiresAt is the session's absolute end; DeleteExpired purges the
	// record after it.
	ExpiresAt time.Time
}

// SAMLLogout is a single logout in progress: its state is the SAML door's
// JSON (the initiating request, the providers still to log out, what each
// answered); only idp/samlidp reads it.
type SAMLLogout struct {
	ID        string
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SAML stores the SAML front door's rows (suite groups ServiceProviders,
// SAMLRequests, SAMLParticipants, SAMLLogouts). Deleting a service provider
// deletes its request ids, persistent NameIDs and participant records.
type SAML interface {
	// CreateServiceProvider stores p; ErrConflict when the entity id is
	// taken.
	CreateServiceProvider(ctx context.Context, p ServiceProvider) error
	GetServiceProvider(ctx context.Context, entityID string) (ServiceProvider, error)
	// ListServiceProviders lists every provider, by entity id.
	ListServiceProviders(ctx context.Context) ([]ServiceProvider, error)
	// UpdateServiceProvider rewrites a provider; EntityID and CreatedAt
	// are kept.
	UpdateServiceProvider(ctx context.Context, entityID string, fn func(ServiceProvider) (ServiceProvider, error)) (ServiceProvider, error)
	DeleteServiceProvider(ctx context.Context, entityID string) error

	// UseSAMLRequestID records request id (an AuthnRequest's or a
	// LogoutRequest's) of provider entityID as used until expiresAt,
	// atomically: ErrAlreadyUsed when a record of it is live at now (of
	// concurrent callers exactly one wins); ErrConflict when the provider
	// does not exist.
	UseSAMLRequestID(ctx context.Context, entityID, id string, expiresAt, now time.Time) error

	// PersistentNameID returns the persistent NameID of user userID at
	// provider entityID, storing candidate as it when there is none yet:
	// of concurrent callers with different candidates, all get the one
	// that was stored. ErrConflict when the provider or the user does not
	// exist. An empty candidate only looks: ErrNotFound when there is none
	// (a request with AllowCreate="false").
	PersistentNameID(ctx context.Context, entityID, userID, candidate string) (string, error)

	// AddSAMLParticipant records p; a record for the same (SessionHash,
	// EntityID) is replaced.
	AddSAMLParticipant(ctx context.Context, p SAMLParticipant) error
	// ListSAMLParticipants lists the live records of a session, oldest
	// first.
	ListSAMLParticipants(ctx context.Context, sessionHash string, now time.Time) ([]SAMLParticipant, error)
	// MoveSAMLParticipants moves a session's records to the session that
	// replaced it in the same browser (a new session id after step-up).
	MoveSAMLParticipants(ctx context.Context, fromHash, toHash string) error
	// DeleteSAMLParticipants deletes a session's records.
	DeleteSAMLParticipants(ctx context.Context, sessionHash string) error

	// CreateSAMLLogout stores l; ErrConflict when the id is taken.
	CreateSAMLLogout(ctx context.Context, l SAMLLogout) error
	// GetSAMLLogout returns a logout; ErrNotFound when unknown or past
	// its ExpiresAt at now.
	GetSAMLLogout(ctx context.Context, id string, now time.Time) (SAMLLogout, error)
	// UpdateSAMLLogout rewrites a live logout's State under its row lock
	// (ID, CreatedAt and ExpiresAt are kept).
	UpdateSAMLLogout(ctx context.Context, id string, now time.Time, fn func(SAMLLogout) (SAMLLogout, error)) (SAMLLogout, error)
	DeleteSAMLLogout(ctx context.Context, id string) error
}
