package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// errSAMLPending: the SAML rows' statements are being written (issue 13);
// these stubs keep the build green until then.
var errSAMLPending = errors.New("sqlstore: saml storage not implemented yet")

func (s *Store) CreateServiceProvider(ctx context.Context, p storage.ServiceProvider) error {
	return errSAMLPending
}
func (s *Store) GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error) {
	return storage.ServiceProvider{}, errSAMLPending
}
func (s *Store) ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error) {
	return nil, errSAMLPending
}
func (s *Store) UpdateServiceProvider(ctx context.Context, entityID string, fn func(storage.ServiceProvider) (storage.ServiceProvider, error)) (storage.ServiceProvider, error) {
	return storage.ServiceProvider{}, errSAMLPending
}
func (s *Store) DeleteServiceProvider(ctx context.Context, entityID string) error {
	return errSAMLPending
}
func (s *Store) UseSAMLRequestID(ctx context.Context, entityID, id string, expiresAt, now time.Time) error {
	return errSAMLPending
}
func (s *Store) PersistentNameID(ctx context.Context, entityID, userID, candidate string) (string, error) {
	return "", errSAMLPending
}
func (s *Store) AddSAMLParticipant(ctx context.Context, p storage.SAMLParticipant) error {
	return errSAMLPending
}
func (s *Store) ListSAMLParticipants(ctx context.Context, sessionHash string, now time.Time) ([]storage.SAMLParticipant, error) {
	return nil, errSAMLPending
}
func (s *Store) MoveSAMLParticipants(ctx context.Context, fromHash, toHash string) error {
	return errSAMLPending
}
func (s *Store) DeleteSAMLParticipants(ctx context.Context, sessionHash string) error {
	return errSAMLPending
}
func (s *Store) CreateSAMLLogout(ctx context.Context, l storage.SAMLLogout) error {
	return errSAMLPending
}
func (s *Store) GetSAMLLogout(ctx context.Context, id string, now time.Time) (storage.SAMLLogout, error) {
	return storage.SAMLLogout{}, errSAMLPending
}
func (s *Store) UpdateSAMLLogout(ctx context.Context, id string, now time.Time, fn func(storage.SAMLLogout) (storage.SAMLLogout, error)) (storage.SAMLLogout, error) {
	return storage.SAMLLogout{}, errSAMLPending
}
func (s *Store) DeleteSAMLLogout(ctx context.Context, id string) error { return errSAMLPending }

var _ storage.SAML = (*Store)(nil)
