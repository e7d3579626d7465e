package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

// commonPasswords is zxcvbn's list of common passwords (MIT; see
// common_passwords.NOTICE), lower-case, one per line, gzipped.
//
//go:embed common_passwords.txt.gz
var commonPasswords []byte

// blocklist is the decompressed list as a set, built once on first use
// (about 47,000 entries, a few MiB): a lookup is one map access.
var blocklist = sync.OnceValues(func() (map[string]struct{}, error) {
	return parseBlocklist(commonPasswords)
})

func parseBlocklist(gz []byte) (map[string]struct{}, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("password: common-password list: %w", err)
	}
	set := make(map[string]struct{}, 50000)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if w := blockKey(sc.Text()); w != "" {
			set[w] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("password: common-password list: %w", err)
	}
	return set, nil
}

// blockKey is the form both the list and a candidate are compared in:
// NFKC, then lower case, so "PassWord1" and full-width "ｐａｓｓｗｏｒｄ１"
// are found as "password1".
func blockKey(s string) string { return strings.ToLower(Normalize(s)) }

// BlocklistSize is how many distinct passwords the embedded list holds.
func BlocklistSize() (int, error) {
	set, err := blocklist()
	return len(set), err
}
