package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// The SAML front door's rows (migrations/*/0010_saml.sql).

var serviceProviders = newTable("service_providers", "entity_id",
	func(p *storage.ServiceProvider) *string { return &p.EntityID },
	func(p *storage.ServiceProvider) *fields {
		f := new(fields)
		f.text("entity_id", &p.EntityID)
		f.text("name", &p.Name)
		f.bytes("metadata", &p.Metadata)
		f.text("metadata_url", &p.MetadataURL)
		f.time("metadata_fetched_at", &p.MetadataFetchedAt)
		f.text("metadata_error", &p.MetadataError)
		f.jsonText("settings", &p.Settings, func() {
			if len(p.Settings.NameIDFormats) == 0 {
				p.Settings.NameIDFormats = nil
			}
			if len(p.Settings.Attributes) == 0 {
				p.Settings.Attributes = nil
			}
		})
		f.text("source", &p.Source)
		f.time("created_at", &p.CreatedAt)
		f.time("updated_at", &p.UpdatedAt)
		return f
	})

var samlLogouts = newTable("saml_logouts", "id",
	func(l *storage.SAMLLogout) *string { return &l.ID },
	func(l *storage.SAMLLogout) *fields {
		f := new(fields)
		f.text("id", &l.ID)
		f.bytes("state", &l.State)
		f.time("created_at", &l.CreatedAt)
		f.time("expires_at", &l.ExpiresAt)
		return f
	})

// samlParticipants is keyed by (session_hash, entity_id): it has its own
// statements below, and get, update and remove must not be used with it.
var samlParticipants = newTable("saml_participants", "",
	func(*storage.SAMLParticipant) *string { return new(string) },
	func(p *storage.SAMLParticipant) *fields {
		f := new(fields)
		f.text("session_hash", &p.SessionHash)
		f.text("entity_id", &p.EntityID)
		f.text("name_id", &p.NameID)
		f.text("name_id_format", &p.NameIDFormat)
		f.text("sp_name_qualifier", &p.SPNameQualifier)
		f.text("session_index", &p.SessionIndex)
		f.time("created_at", &p.CreatedAt)
		f.time("expires_at", &p.ExpiresAt)
		return f
	})

func (s *Store) CreateServiceProvider(ctx context.Context, p storage.ServiceProvider) error {
	return create(ctx, s, serviceProviders, "create service provider", p)
}

func (s *Store) GetServiceProvider(ctx context.Context, entityID string) (storage.ServiceProvider, error) {
	return get(ctx, s, serviceProviders, "get service provider", entityID)
}

func (s *Store) ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error) {
	out, err := serviceProviders.many(ctx, s.d, serviceProviders.selectWhere("ORDER BY entity_id"))
	return out, s.fail("list service providers", err)
}

// UpdateServiceProvider keeps CreatedAt whatever fn returns (update keeps
// the entity id).
func (s *Store) UpdateServiceProvider(ctx context.Context, entityID string, fn func(storage.ServiceProvider) (storage.ServiceProvider, error)) (storage.ServiceProvider, error) {
	return update(ctx, s, serviceProviders, "update service provider", entityID, func(cur storage.ServiceProvider) (storage.ServiceProvider, error) {
		next, err := fn(cur)
		next.CreatedAt = cur.CreatedAt
		return next, err
	})
}

// DeleteServiceProvider: its request ids, NameIDs and participant records
// go with it (ON DELETE CASCADE).
func (s *Store) DeleteServiceProvider(ctx context.Context, entityID string) error {
	return remove(ctx, s, serviceProviders, "delete service provider", entityID)
}

// useSAMLRequestID is useAssertionID's statement for the door's request
// ids: insert, or take over a record that is no longer live, in one
// statement, so that of concurrent callers exactly one changes a row.
const useSAMLRequestID = `INSERT INTO saml_request_ids (entity_id, id, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (entity_id, id) DO UPDATE SET expires_at = $3
WHERE saml_request_ids.expires_at <= $4`

// UseSAMLRequestID: see storage.SAML. An unknown provider fails the
// foreign key: ErrConflict.
func (s *Store) UseSAMLRequestID(ctx context.Context, entityID, id string, expiresAt, now time.Time) error {
	const op = "use saml request id"
	switch {
	case now.IsZero():
		return errZeroNow
	case expiresAt.IsZero():
		return errZeroExpiry
	}
	n, err := s.exec(ctx, op, useSAMLRequestID, entityID, id, micros(expiresAt), micros(now))
	if err == nil && n == 0 {
		err = s.fail(op, storage.ErrAlreadyUsed)
	}
	return err
}

// PersistentNameID inserts the candidate unless the pair has one, then
// reads what is stored: a concurrent caller's insert makes ours do
// nothing (PostgreSQL waits for it on the key), and both read the same.
func (s *Store) PersistentNameID(ctx context.Context, entityID, userID, candidate string) (string, error) {
	const op = "persistent name id"
	var out string
	if candidate == "" {
		err := s.d.QueryRow(ctx, `SELECT name_id FROM saml_nameids WHERE entity_id = $1 AND user_id = $2`, entityID, userID).Scan(&out)
		if err != nil {
			return "", s.fail(op, err)
		}
		return out, nil
	}
	err := s.d.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO saml_nameids (entity_id, user_id, name_id) VALUES ($1, $2, $3)
ON CONFLICT (entity_id, user_id) DO NOTHING`, entityID, userID, candidate); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT name_id FROM saml_nameids WHERE entity_id = $1 AND user_id = $2`, entityID, userID).Scan(&out)
	})
	if err != nil {
		return "", s.fail(op, err)
	}
	return out, nil
}

// AddSAMLParticipant replaces the session's record for the provider.
func (s *Store) AddSAMLParticipant(ctx context.Context, p storage.SAMLParticipant) error {
	const op = "add saml participant"
	args, err := samlParticipants.fields(&p).args()
	if err != nil {
		return s.fail(op, err)
	}
	_, err = s.exec(ctx, op, samlParticipants.insert+` ON CONFLICT (session_hash, entity_id) DO UPDATE SET
name_id = excluded.name_id, name_id_format = excluded.name_id_format, sp_name_qualifier = excluded.sp_name_qualifier,
session_index = excluded.session_index, created_at = excluded.created_at, expires_at = excluded.expires_at`, args...)
	return err
}

func (s *Store) ListSAMLParticipants(ctx context.Context, sessionHash string, now time.Time) ([]storage.SAMLParticipant, error) {
	out, err := samlParticipants.many(ctx, s.d, samlParticipants.selectWhere(
		"WHERE session_hash = $1 AND expires_at > $2 ORDER BY created_at, entity_id"), sessionHash, micros(now))
	return out, s.fail("list saml participants", err)
}

// MoveSAMLParticipants: a record the new session already has for the same
// provider is the newer one; the moved one replaces it, as a new
// AddSAMLParticipant would.
func (s *Store) MoveSAMLParticipants(ctx context.Context, fromHash, toHash string) error {
	if fromHash == toHash {
		return nil
	}
	return s.fail("move saml participants", s.d.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM saml_participants WHERE session_hash = $2 AND entity_id IN
(SELECT entity_id FROM saml_participants WHERE session_hash = $1)`, fromHash, toHash); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `UPDATE saml_participants SET session_hash = $2 WHERE session_hash = $1`, fromHash, toHash)
		return err
	}))
}

func (s *Store) DeleteSAMLParticipants(ctx context.Context, sessionHash string) error {
	_, err := s.exec(ctx, "delete saml participants", `DELETE FROM saml_participants WHERE session_hash = $1`, sessionHash)
	return err
}

func (s *Store) CreateSAMLLogout(ctx context.Context, l storage.SAMLLogout) error {
	return create(ctx, s, samlLogouts, "create saml logout", l)
}

func (s *Store) GetSAMLLogout(ctx context.Context, id string, now time.Time) (storage.SAMLLogout, error) {
	l, err := get(ctx, s, samlLogouts, "get saml logout", id)
	if err == nil && !now.Before(l.ExpiresAt) {
		return storage.SAMLLogout{}, s.fail("get saml logout", storage.ErrNotFound)
	}
	return l, err
}

// UpdateSAMLLogout rewrites State only, of a live logout.
func (s *Store) UpdateSAMLLogout(ctx context.Context, id string, now time.Time, fn func(storage.SAMLLogout) (storage.SAMLLogout, error)) (storage.SAMLLogout, error) {
	return update(ctx, s, samlLogouts, "update saml logout", id, func(cur storage.SAMLLogout) (storage.SAMLLogout, error) {
		if !now.Before(cur.ExpiresAt) {
			return cur, storage.ErrNotFound
		}
		got, err := fn(cur)
		next := cur
		next.State = got.State
		return next, err
	})
}

func (s *Store) DeleteSAMLLogout(ctx context.Context, id string) error {
	return remove(ctx, s, samlLogouts, "delete saml logout", id)
}

var _ storage.SAML = (*Store)(nil)
