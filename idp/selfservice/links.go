package selfservice

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Kind is which page a link opens: a reset link or an invite link.
type Kind int

const (
	KindReset Kind = iota + 1
	KindInvite
)

// purposes are the one-time token purposes a page accepts, in lookup
// order.
func (k Kind) purposes() []string {
	if k == KindInvite {
		return []string{storage.PurposeInvite}
	}
	return []string{storage.PurposePasswordReset, storage.PurposeAdminReset}
}

// MaxToken bounds the token a page accepts: ours are 43 characters, and a
// longer value is never looked up.
const MaxToken = 128

// Link is a usable link, opened.
type Link struct {
	Token storage.OneTimeToken
	User  storage.User
}

// Open looks up a link without consuming it (opening the page, as a mail
// scanner does, must leave it usable). ErrLinkInvalid unless it is usable
// now by an account that may still set a password through it.
func (s *Service) Open(ctx context.Context, kind Kind, raw string) (Link, error) {
	t, err := s.find(ctx, kind, raw)
	if err != nil {
		return Link{}, err
	}
	if !t.Usable(s.now()) {
		return Link{}, ErrLinkInvalid
	}
	u, err := s.Store.GetUser(ctx, t.UserID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return Link{}, ErrLinkInvalid
	case err != nil:
		return Link{}, fmt.Errorf("selfservice: link account: %w", err)
	case !linkFits(t.Purpose, u):
		return Link{}, ErrLinkInvalid
	}
	return Link{Token: t, User: u}, nil
}

// find returns the token raw names, consumed or not.
func (s *Service) find(ctx context.Context, kind Kind, raw string) (storage.OneTimeToken, error) {
	if raw == "" || len(raw) > MaxToken || !storage.Storable(raw) {
		return storage.OneTimeToken{}, ErrLinkInvalid
	}
	hash := storage.HashSecret(raw)
	for _, p := range kind.purposes() {
		t, err := s.Store.GetOneTimeToken(ctx, p, hash)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return storage.OneTimeToken{}, fmt.Errorf("selfservice: find link: %w", err)
		}
		return t, nil
	}
	return storage.OneTimeToken{}, ErrLinkInvalid
}

// linkFits: the account is one the link may still set a password for. An
// invite serves an invited account only (once active, its link is dead);
// a reset an active one. A disabled account uses neither.
func linkFits(purpose string, u storage.User) bool {
	if purpose == storage.PurposeInvite {
		return u.State == storage.UserInvited
	}
	return u.State == storage.UserActive
}

// Set is the result of setting a password from a link.
type Set struct {
	User storage.User
	// AuthRequestID is the login the user asked for the link from, to go
	// back to ("" for none).
	AuthRequestID string
}

// SetPassword sets pw (typed twice: pw, confirm) as the password of the
// link's account, and consumes the link, only when the password meets the
// policy: a refused password leaves the link usable. It verifies the
// email (the link reached it), makes an invited account active, ends
// every session, revokes every token, ends a temporary lock (Unlocker)
// and sends a notice. It signs nobody in.
func (s *Service) SetPassword(ctx context.Context, kind Kind, raw, pw, confirm string) (Set, error) {
	l, err := s.Open(ctx, kind, raw)
	if err != nil {
		return Set{}, err
	}
	if pw != confirm {
		return Set{}, ErrMismatch
	}
	// Only the user's own reset is held back by the minimum age; an
	// invite sets a first password, an administrator's link overrides.
	if err := s.Rules.Check(ctx, l.User, pw, l.Token.Purpose == storage.PurposePasswordReset); err != nil {
		return Set{}, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return Set{}, fmt.Errorf("selfservice: hash: %w", err)
	}
	now := s.now()
	// Consuming the link, storing the password, ending the account's
	// sessions, tokens and lock and the audit event are one transaction:
	// if any of it fails, the link is still usable and nothing changed.
	var (
		t                storage.OneTimeToken
		u                storage.User
		invited          bool
		sessions, tokens int
	)
	err = storage.Atomically(ctx, s.Store, func(ctx context.Context) error {
		var err error
		t, err = s.Store.ConsumeOneTimeToken(ctx, l.Token.Purpose, l.Token.Hash, now)
		switch {
		case errors.Is(err, storage.ErrAlreadyUsed), errors.Is(err, storage.ErrExpired), errors.Is(err, storage.ErrNotFound):
			return ErrLinkInvalid // a concurrent POST won, or it expired meanwhile
		case err != nil:
			return fmt.Errorf("selfservice: consume link: %w", err)
		}
		u, err = s.Store.UpdateUser(ctx, t.UserID, func(u storage.User) (storage.User, error) {
			if !linkFits(t.Purpose, u) {
				return u, ErrLinkInvalid // disabled meanwhile
			}
			invited = u.State == storage.UserInvited
			u.PasswordHash, u.PasswordChangedAt = hash, now
			u.EmailVerified = true
			u.State = storage.UserActive
			return u, nil
		})
		if err != nil {
			if errors.Is(err, ErrLinkInvalid) {
				return ErrLinkInvalid
			}
			return fmt.Errorf("selfservice: set password: %w", err)
		}
		sessions, tokens = s.endAccess(ctx, u, "")
		if ul, ok := s.Guard.(Unlocker); ok {
			if err := ul.Unlock(ctx, u.ID); err != nil {
				s.log().WarnContext(ctx, "selfservice: ending the lock after a reset failed", "user_id", u.ID, "err", err)
			}
		}
		typ := audit.PasswordReset
		if invited {
			typ = audit.InviteAccepted
		}
		s.record(ctx, typ, "", u, map[string]string{"purpose": t.Purpose, "sessions_ended": fmt.Sprint(sessions), "tokens_revoked": fmt.Sprint(tokens)})
		return nil
	})
	if err != nil {
		return Set{}, err
	}
	// After the commit: the notice is an email, not part of the change.
	if !invited {
		s.notice(ctx, u)
	}
	return Set{User: u, AuthRequestID: t.AuthRequestID}, nil
}

// endAccess ends u's sessions (but keep's) and revokes u's tokens, after a
// new password. Best effort on top of a password already stored: failures
// are logged.
func (s *Service) endAccess(ctx context.Context, u storage.User, keep string) (sessions, tokens int) {
	var err error
	if keep == "" {
		sessions, err = s.Store.DeleteUserSessions(ctx, u.ID)
	} else {
		sessions, err = s.Store.DeleteOtherUserSessions(ctx, u.ID, keep)
	}
	if err != nil {
		s.log().ErrorContext(ctx, "selfservice: ending sessions after a new password failed", "user_id", u.ID, "err", err)
	}
	if tokens, err = s.Store.RevokeUserTokens(ctx, u.ID, s.now()); err != nil {
		s.log().ErrorContext(ctx, "selfservice: revoking tokens after a new password failed", "user_id", u.ID, "err", err)
	}
	return sessions, tokens
}

// notice tells u their password changed. A failure is logged: the change
// itself happened.
func (s *Service) notice(ctx context.Context, u storage.User) {
	s.tell(ctx, TemplatePasswordChanged, u, MailData{})
}

// Renew is "send me a new link" on the page of an expired or used link:
// one click, no email to type. When the token is still known and its
// account can use a link, a new one goes to the account's address (a
// reset or set-password link, as RequestReset would send). Otherwise
// nothing is sent, with the same answer; the page then also offers the
// forgot-password form. Rate-limited like RequestReset.
func (s *Service) Renew(ctx context.Context, kind Kind, raw, ip string) error {
	defer s.floor(ctx, s.now())
	t, err := s.find(ctx, kind, raw)
	if errors.Is(err, ErrLinkInvalid) {
		if err := s.allow(ctx, "", ip); err != nil {
			return err
		}
		return s.decoy(ctx, storage.User{}, "unknown_link")
	} else if err != nil {
		return err
	}
	u, err := s.Store.GetUser(ctx, t.UserID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if err := s.allow(ctx, "", ip); err != nil {
			return err
		}
		return s.decoy(ctx, storage.User{}, "unknown_user")
	case err != nil:
		return fmt.Errorf("selfservice: link account: %w", err)
	}
	return s.requestReset(ctx, u.Email, ip, t.AuthRequestID)
}
