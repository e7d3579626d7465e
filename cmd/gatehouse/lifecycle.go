package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// userCommand runs one admin action on the user --email names.
func userCommand(ctx context.Context, c *cmdEnv, act func(*instance.Instance) (string, error)) error {
	if c.email == "" {
		return fmt.Errorf("%w: --email is required", errUsage)
	}
	return withInstance(ctx, c, act)
}

// withInstance opens the instance, runs act and prints what it says.
func withInstance(ctx context.Context, c *cmdEnv, act func(*instance.Instance) (string, error)) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	msg, err := act(inst)
	if err != nil {
		return inputOrErr(err)
	}
	fmt.Fprintln(c.io.out, msg)
	return nil
}

func runUsersSetPassword(ctx context.Context, c *cmdEnv) error {
	if !c.passwordStdin {
		return fmt.Errorf("%w: --password-stdin is required: the password is read from standard input only, never from an argument", errUsage)
	}
	pw, err := readPassword(c.io.in)
	if err != nil {
		return err
	}
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.SetPassword(ctx, actor(), c.email, pw)
		return fmt.Sprintf("set the password of %s (%s, state %s); their sessions and tokens are revoked", u.Email, u.ID, u.State), err
	})
}

func runUsersEnable(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.EnableUser(ctx, actor(), c.email)
		return fmt.Sprintf("enabled user %s (%s, state %s)", u.Email, u.ID, u.State), err
	})
}

func runUsersUnlock(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		res, err := inst.Admin.UnlockUser(ctx, actor(), c.email)
		u := res.User
		if err != nil {
			return "", err
		}
		was := "was not locked"
		if !res.WasLockedUntil.IsZero() {
			was = "was locked until " + res.WasLockedUntil.UTC().Format(time.RFC3339)
		}
		return fmt.Sprintf("unlocked user %s (%s, state %s): %s; %d failed sign-ins forgotten", u.Email, u.ID, u.State, was, res.Failures), nil
	})
}

func runUsersDelete(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.DeleteUser(ctx, actor(), c.email)
		return fmt.Sprintf("deleted user %s (%s) with their sessions and tokens", u.Email, u.ID), err
	})
}

func runOrgsDelete(ctx context.Context, c *cmdEnv) error {
	if c.name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	return withInstance(ctx, c, func(inst *instance.Instance) (string, error) {
		o, err := inst.Admin.DeleteOrg(ctx, actor(), c.name)
		return fmt.Sprintf("deleted organization %s (%s)", o.Name, o.ID), err
	})
}

func runUsersResendInvite(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.SendInvite(ctx, actor(), c.email)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("sent a new welcome email to %s (older links no longer work); its link is valid for %s", u.Email, inst.Config.Invite.TTL), nil
	})
}

func runUsersSendReset(ctx context.Context, c *cmdEnv) error {
	return userCommand(ctx, c, func(inst *instance.Instance) (string, error) {
		u, err := inst.Admin.SendReset(ctx, actor(), c.email)
		if err != nil {
			return "", err
		}
		if u.State == storage.UserInvited {
			return fmt.Sprintf("%s has not set a password yet: sent a new welcome email instead", u.Email), nil
		}
		return fmt.Sprintf("sent a password-reset link to %s; it is valid for %s", u.Email, inst.Config.Reset.TTL), nil
	})
}
