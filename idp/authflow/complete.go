package authflow

import (
	"context"
	"strings"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/session"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Complete is the one way a door may issue its response (an authorization
// code, a SAML assertion): it moves request id from done to issued in one
// conditional write, only for the browser whose session finished the
// login, and audits the successful login. A second call, a call before
// the login is done, or one from another browser changes nothing.
//
// The move and its audit event are one transaction; a door that calls
// Complete inside its own unit of work (storage.Atomically, to store its
// response with it) makes them part of that one.
func (f *Flow) Complete(ctx context.Context, id string, b session.Browser) (storage.AuthRequest, error) {
	var r storage.AuthRequest
	err := storage.Atomically(ctx, f.Store, func(ctx context.Context) error {
		var err error
		r, err = f.complete(ctx, id, b)
		return err
	})
	return r, err
}

func (f *Flow) complete(ctx context.Context, id string, b session.Browser) (storage.AuthRequest, error) {
	now := f.Now()
	r, err := f.Store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		switch {
		case !now.Before(r.ExpiresAt):
			return r, ErrRequestGone
		case StepOf(r) == StepIssued:
			return r, ErrOutOfTurn
		case StepOf(r) != StepDone:
			return r, ErrIncomplete
		case b.Session == nil || r.SessionID == "" || b.Session.Hash != r.SessionID:
			// Whoever learns a request id must not collect its response
			// from another browser.
			return r, ErrWrongBrowser
		}
		r.Step = StepIssued.name
		return r, nil
	})
	if err != nil {
		return storage.AuthRequest{}, f.mapErr(err)
	}
	f.record(ctx, audit.LoginSucceeded, r, storage.User{ID: r.UserID, OrgID: r.OrgID},
		map[string]string{"amr": strings.Join(r.AMR, " ")})
	return r, nil
}
