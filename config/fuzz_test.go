package config

import (
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the YAML stage of Load. It must never
// panic, and whatever it accepts must pass Validate. It stops short of
// *_file secrets so that the fuzzer cannot make it open arbitrary files.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(""))
	f.Add([]byte("dev: true\n"))
	f.Add([]byte("dev: true\nserver:\n  addr: 127.0.0.1:0\n  drain_delay: 1s\n  trusted_proxies: [10.0.0.0/8]\n"))
	f.Add([]byte("issuer: &a https://x\nmaster_key: *a\nserver: {addr: 5}\n---\n"))
	f.Add([]byte("password:\n  argon2: {memory_kib: -1, iterations: 1e9}\n<<: {dev: true}\n"))
	f.Add([]byte("master_key: !!binary AAAA\nlog: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		if devMode(data, nil) {
			c = DevDefault()
		}
		errs, fatal := decodeYAML("fuzz.yaml", data, &c)
		if fatal != nil || len(errs) > 0 {
			for _, err := range append(errs, fatal) {
				if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
					t.Errorf("error does not name the file: %v", err)
				}
			}
			return
		}
		_ = c.Validate()
		_ = c.LogValue()
	})
}
