package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
	"github.com/gatehouse-idp/gatehouse/idp/instance"
)

// maxImportLine bounds one JSON line; a user is a few hundred bytes.
const maxImportLine = 64 << 10

func runUsersImport(ctx context.Context, c *cmdEnv) error {
	if c.file == "" {
		return fmt.Errorf("%w: --file is required", errUsage)
	}
	var r io.Reader = c.io.in
	if c.file != "-" {
		f, err := os.Open(c.file)
		if err != nil {
			return fmt.Errorf("users import: %w", err)
		}
		defer f.Close()
		r = f
	}
	entries, err := readImport(r)
	if err != nil {
		return err
	}
	return withInstance(ctx, c, func(inst *instance.Instance) (string, error) {
		org := c.org
		if org == "" {
			org = inst.Config.Bootstrap.Organization
		}
		users, err := inst.Admin.ImportUsers(ctx, actor(), org, entries)
		return fmt.Sprintf("imported %d users; those with a password hash sign in with their old password, the others are invited", len(users)), err
	})
}

// readImport reads JSON lines, one user each; entry numbers are line
// numbers, so an empty line in the middle is an error rather than a shift.
func readImport(r io.Reader) ([]admin.ImportUser, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxImportLine)
	var out []admin.ImportUser
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			return nil, fmt.Errorf("users import: line %d is empty: one JSON object per line", line)
		}
		var u admin.ImportUser
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&u); err != nil {
			return nil, fmt.Errorf("users import: line %d: %v", line, err)
		}
		out = append(out, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users import: %w (a line is longer than %d bytes?)", err, maxImportLine)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("users import: the file holds no users")
	}
	return out, nil
}
