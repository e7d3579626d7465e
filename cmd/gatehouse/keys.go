package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/instance"
	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// auditKeyRotated is the audit event type of a rotation from the CLI.
const auditKeyRotated = "key.rotated"

// newKeyManager builds the signing-key manager of an instance. Serving
// instances and the CLI must agree on its durations, so both build it here
// (or from the same config, once it has key settings).
func newKeyManager(inst *instance.Instance) *keys.Manager {
	return &keys.Manager{Store: inst.Store, Sealer: inst.Key, Now: inst.Now, Logger: inst.Logger}
}

func runKeysRotate(ctx context.Context, c *cmdEnv) error {
	algs := keys.Algorithms()
	if c.alg != "" {
		if !slices.Contains(algs, c.alg) {
			return fmt.Errorf("%w: --alg %q: want one of %s", errUsage, c.alg, strings.Join(algs, ", "))
		}
		algs = []string{c.alg}
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	m := newKeyManager(inst)
	for _, alg := range algs {
		k, err := m.Rotate(ctx, alg)
		if err != nil {
			return err
		}
		now := inst.Now()
		if k.NotBefore.After(now) {
			fmt.Fprintf(c.io.out, "%s: published key %s; it signs from %s (in %s)\n",
				alg, k.ID, cliTime(k.NotBefore), k.NotBefore.Sub(now).Round(time.Second))
		} else {
			fmt.Fprintf(c.io.out, "%s: key %s signs now (no %s key was signing)\n", alg, k.ID, alg)
		}
		status, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, st := range status {
			old := st.Key
			if old.Algorithm == alg && old.ID != k.ID && old.RetireAt.Equal(k.NotBefore) {
				fmt.Fprintf(c.io.out, "%s: key %s stops signing then; it stays published until %s\n",
					alg, old.ID, cliTime(old.ExpiresAt))
			}
		}
		// The rotation is done; a failed audit write is logged by the
		// recorder and reported, not undone.
		if err := inst.Audit.Record(ctx, storage.AuditEvent{Type: auditKeyRotated, ActorID: actor(),
			Details: map[string]string{"kid": k.ID, "alg": alg, "not_before": k.NotBefore.UTC().Format(time.RFC3339)}}); err != nil {
			return err
		}
	}
	return nil
}

func runKeysList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	status, err := newKeyManager(inst).Status(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRES\tUNPUBLISHED")
	for _, st := range status {
		k := st.Key
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, st.State,
			cliTime(k.CreatedAt), cliTime(k.NotBefore), cliTime(k.RetireAt), cliTime(k.ExpiresAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range status {
		if st.State == keys.StateInvalid {
			fmt.Fprintf(c.io.err, "warning: key %s is not used: %v\n", st.Key.ID, st.Err)
		}
	}
	return nil
}

// cliTime prints a key time; zero means "no end" for RETIRES and
// UNPUBLISHED.
func cliTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
