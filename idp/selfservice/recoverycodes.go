package selfservice

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// RecoveryCodes is a new set of recovery codes, to show once: storage
// keeps only their hashes, so no page can show them again.
type RecoveryCodes struct {
	Codes []string
	// Org and Account name whose codes they are, for the download file;
	// At is when they were made.
	Org, Account string
	At           time.Time
}

func (s *Service) recoveryCodes(ctx context.Context, u storage.User, codes []string) *RecoveryCodes {
	return &RecoveryCodes{Codes: codes, Org: s.orgName(ctx, u), Account: u.Email, At: s.now()}
}

// RegenerateRecoveryCodes makes the user a new set of recovery codes; the
// old set, used or not, no longer works. ErrNotAllowed when codes are not
// offered; ErrNoFactor when the user has no factor for them to stand in
// for.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, userID string) (RecoveryCodes, error) {
	o, err := s.Overview(ctx, userID)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if s.Recovery == nil {
		return RecoveryCodes{}, ErrNotAllowed
	}
	if !o.Recovery {
		return RecoveryCodes{}, ErrNoFactor
	}
	u, err := s.Store.GetUser(ctx, userID)
	if err != nil {
		return RecoveryCodes{}, fmt.Errorf("selfservice: load account: %w", err)
	}
	codes, err := s.Recovery.Issue(ctx, u.ID)
	if err != nil {
		return RecoveryCodes{}, fmt.Errorf("selfservice: issue recovery codes: %w", err)
	}
	s.record(ctx, audit.RecoveryCodesIssued, u.ID, u, map[string]string{"count": fmt.Sprint(len(codes)), "at": "me", "replaced": fmt.Sprint(o.RecoveryTotal)})
	s.tellChange(ctx, u, "New recovery codes were made for your account. The old ones no longer work.")
	return *s.recoveryCodes(ctx, u, codes), nil
}
