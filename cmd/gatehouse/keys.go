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

// Key uses, as --use names them.
var keyUses = []string{storage.KeyUseOIDC, storage.KeyUseSAML}

// newKeyManager builds the signing-key manager of an instance. Serving
// instances and the CLI must agree on its durations, so both build it here
// (or from the same config, once it has key settings). The SAML keys'
// manager is the instance's own, built from the config.
func newKeyManager(inst *instance.Instance) *keys.Manager {
	return &keys.Manager{Store: inst.Store, Sealer: inst.Key, Now: inst.Now, Logger: inst.Logger}
}

// rotation is one chain of keys that `keys rotate` rotates.
type rotation struct {
	label  string // what its output lines start with: the algorithm, or SAML
	alg    string
	rotate func(context.Context) (storage.SigningKey, error)
	status func(context.Context) ([]keys.KeyStatus, error)
}

// checkRotateFlags reports a bad --use or --alg before storage is opened.
func checkRotateFlags(c *cmdEnv) error {
	if !slices.Contains(keyUses, c.use) {
		return fmt.Errorf("%w: --use %q: want one of %s", errUsage, c.use, strings.Join(keyUses, ", "))
	}
	if c.use == storage.KeyUseSAML {
		if c.alg != "" && c.alg != keys.RS256 {
			return fmt.Errorf("%w: --alg %q: SAML keys are %s", errUsage, c.alg, keys.RS256)
		}
		return nil
	}
	if algs := keys.Algorithms(); c.alg != "" && !slices.Contains(algs, c.alg) {
		return fmt.Errorf("%w: --alg %q: want one of %s", errUsage, c.alg, strings.Join(algs, ", "))
	}
	return nil
}

// rotations are the chains the flags name: the SAML one, or the OIDC
// algorithms (all, or --alg).
func rotations(c *cmdEnv, inst *instance.Instance) []rotation {
	if c.use == storage.KeyUseSAML {
		sm := inst.SAMLKeys
		return []rotation{{label: "SAML", alg: keys.RS256, rotate: sm.Rotate, status: sm.Status}}
	}
	m := newKeyManager(inst)
	algs := keys.Algorithms()
	if c.alg != "" {
		algs = []string{c.alg}
	}
	out := make([]rotation, 0, len(algs))
	for _, alg := range algs {
		out = append(out, rotation{label: alg, alg: alg, status: m.Status,
			rotate: func(ctx context.Context) (storage.SigningKey, error) { return m.Rotate(ctx, alg) }})
	}
	return out
}

func runKeysRotate(ctx context.Context, c *cmdEnv) error {
	if err := checkRotateFlags(c); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	for _, r := range rotations(c, inst) {
		if err := rotateOne(ctx, c, inst, r); err != nil {
			return err
		}
	}
	return nil
}

// rotateOne rotates one chain, says what happens when, and audits it.
func rotateOne(ctx context.Context, c *cmdEnv, inst *instance.Instance, r rotation) error {
	k, err := r.rotate(ctx)
	if err != nil {
		return err
	}
	now := inst.Now()
	if k.NotBefore.After(now) {
		fmt.Fprintf(c.io.out, "%s: published key %s; it signs from %s (in %s)\n",
			r.label, k.ID, cliTime(k.NotBefore), k.NotBefore.Sub(now).Round(time.Minute))
	} else {
		fmt.Fprintf(c.io.out, "%s: key %s signs now (no %s key was signing)\n", r.label, k.ID, r.label)
	}
	status, err := r.status(ctx)
	if err != nil {
		return err
	}
	for _, st := range status {
		old := st.Key
		if old.Algorithm == r.alg && old.ID != k.ID && old.RetireAt.Equal(k.NotBefore) {
			fmt.Fprintf(c.io.out, "%s: key %s stops signing then; it stays published until %s\n",
				r.label, old.ID, cliTime(old.ExpiresAt))
		}
	}
	// The rotation is done; a failed audit write is logged by the
	// recorder and reported, not undone.
	return inst.Audit.Record(ctx, storage.AuditEvent{Type: auditKeyRotated, ActorID: actor(),
		Details: map[string]string{"kid": k.ID, "use": k.Use, "alg": r.alg, "not_before": k.NotBefore.UTC().Format(time.RFC3339)}})
}

func runKeysList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	oidc, err := newKeyManager(inst).Status(ctx)
	if err != nil {
		return err
	}
	saml, err := inst.SAMLKeys.Status(ctx)
	if err != nil {
		return err
	}
	status := append(oidc, saml...)
	tw := tabwriter.NewWriter(c.io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tUSE\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRES\tUNPUBLISHED")
	for _, st := range status {
		k := st.Key
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Use, k.Algorithm, st.State,
			cliTime(k.CreatedAt), cliTime(k.NotBefore), cliTime(k.RetireAt), cliTime(k.ExpiresAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range status {
		if st.State == keys.StateInvalid {
			fmt.Fprintf(c.io.err, "warning: %s key %s is not used: %v\n", st.Key.Use, st.Key.ID, st.Err)
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
