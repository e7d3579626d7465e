package selfservice

import (
	"context"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/mfa"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Notices: a change to a user's password or second factors is mailed to
// the account's own address, after the change committed. They are best
// effort: a mail failure is logged and audited, and never undoes or fails
// the change (a user who just turned on a factor must not be told it
// failed because a notice did not leave).

// tell mails u template with d, filled with u's names.
func (s *Service) tell(ctx context.Context, template string, u storage.User, d MailData) {
	if s.Mail == nil || u.Email == "" {
		return
	}
	// The change is done: a client that went away must not cost its
	// notice.
	ctx = context.WithoutCancel(ctx)
	d.Org, d.User, d.Email = s.orgName(ctx, u), u.Name, u.Email
	if err := s.Mail.Mail(ctx, template, u.Email, d); err != nil {
		s.log().WarnContext(ctx, "selfservice: a notice was not sent", "template", template, "user_id", u.ID, "err", err)
		s.record(ctx, audit.MailFailed, "", u, map[string]string{"template": template, "error": err.Error()})
	}
}

// tellChange mails u the notice of a change to their second factors.
func (s *Service) tellChange(ctx context.Context, u storage.User, change string) {
	s.tell(ctx, TemplateMFAChanged, u, MailData{Change: change, At: s.now()})
}

// FactorAdded is authflow.Notices: the flow calls it after a user enrolled
// a factor at a login.
func (s *Service) FactorAdded(ctx context.Context, u storage.User, method string) {
	s.tellChange(ctx, u, "A second sign-in step was added to your account while signing in: "+kindName(method)+".")
}

// kindName is what a notice calls a factor of kind.
func kindName(kind string) string {
	switch kind {
	case mfa.TOTP:
		return "an authenticator app"
	case mfa.Email:
		return "email codes"
	case mfa.Recovery:
		return "recovery codes"
	case mfa.SMS:
		return "text-message codes"
	case mfa.WebAuthn:
		return "a security key or passkey"
	}
	return "a sign-in method"
}

// factorName is what a notice calls f: its kind and, for an address, the
// address masked (the notice may be read over a shoulder too).
func factorName(f storage.Factor) string {
	if f.Kind == mfa.Email && f.Address != "" {
		return kindName(f.Kind) + " to " + mfa.MaskAddress(f.Address)
	}
	return kindName(f.Kind)
}

// addedChange says what a confirmation at /me changed.
func addedChange(f storage.Factor, reset, codes bool) string {
	s := "A second sign-in step was added to your account: " + factorName(f) + "."
	if reset {
		s = "Your authenticator app was reset: only the new app's codes work now."
	}
	if codes {
		s += " New recovery codes were made with it."
	}
	return s
}

// removedChange says what a removal at /me changed.
func removedChange(f storage.Factor, codesGone bool) string {
	s := "A second sign-in step was removed from your account: " + factorName(f) + "."
	if codesGone {
		s += " It was the last one, so your recovery codes were removed too."
	}
	return s
}
