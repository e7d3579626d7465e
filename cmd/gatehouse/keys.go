package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Key uses, as --use names them.
var keyUses = []string{storage.KeyUseOIDC, storage.KeyUseSAML}

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

// runKeysRotate rotates through idp/admin (which audits each rotation)
// and says what happens when.
func runKeysRotate(ctx context.Context, c *cmdEnv) error {
	if err := checkRotateFlags(c); err != nil {
		return err
	}
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	rs, err := inst.Admin.RotateKeys(ctx, actor(), c.use, c.alg)
	now := inst.Now()
	for _, r := range rs {
		k := r.Key
		if k.NotBefore.After(now) {
			fmt.Fprintf(c.io.out, "%s: published key %s; it signs from %s (in %s)\n",
				r.Label, k.ID, cliTime(k.NotBefore), k.NotBefore.Sub(now).Round(time.Minute))
		} else {
			fmt.Fprintf(c.io.out, "%s: key %s signs now (no %s key was signing)\n", r.Label, k.ID, r.Label)
		}
		for _, old := range r.Replaced {
			fmt.Fprintf(c.io.out, "%s: key %s stops signing then; it stays published until %s\n",
				r.Label, old.ID, cliTime(old.ExpiresAt))
		}
	}
	return err
}

func runKeysList(ctx context.Context, c *cmdEnv) error {
	inst, err := c.openInstance(ctx)
	if err != nil {
		return err
	}
	defer inst.Close()
	status, err := inst.Admin.ListKeys(ctx)
	if err != nil {
		return err
	}
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
