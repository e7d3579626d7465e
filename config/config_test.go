package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secrets used by the tests; none may ever appear in output or errors.
var (
	testKey       = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xA7}, 32))
	testKeyRaw    = base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0x5C}, 32))
	testShortKey  = base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	testDSN       = "postgres://gatehouse:hunter2-s3cret@db.internal/gatehouse"
	secretsInTest = []string{testKey, testKeyRaw, testShortKey, "hunter2-s3cret", "not*base64*S3CRET"}
)

// minimal is the smallest valid production file.
var minimal = "issuer: https://id.example.com\nmaster_key: " + testKey + "\n"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadYAML writes yamlText (if any) to gatehouse.yaml and loads it.
func loadYAML(t *testing.T, yamlText string, env ...string) (Config, error) {
	t.Helper()
	path := ""
	if yamlText != "" {
		path = writeFile(t, "gatehouse.yaml", yamlText)
	}
	return Load(path, env)
}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range secretsInTest {
		if strings.Contains(s, secret) {
			t.Errorf("%s leaks secret %q:\n%s", what, secret, s)
		}
	}
}

// assertProblems: err is nil when want is empty, and otherwise reports
// exactly len(want) problems, each containing one of want, and no secret
// of the test's.
func assertProblems(t *testing.T, err error, want []string, secrets ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatal("Validate succeeded, want an error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%v", w, err)
		}
	}
	if n := len(flatten(err)); n != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", n, len(want), err)
	}
	assertNoSecrets(t, "error", err.Error())
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks secret %q: %v", s, err)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	// {{MISSING}} in a row's env is replaced by a path that does not exist.
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string // substrings of the error, in any order
		n    int      // if > 0, the number of problems reported
	}{
		{
			name: "empty production config",
			want: []string{"issuer: required", "master_key: required unless dev is true"},
		},
		{
			name: "unknown top-level key names key and line",
			yaml: minimal + "isuer: https://x\n",
			want: []string{`gatehouse.yaml:3: unknown key "isuer" (did you mean "issuer"?)`},
		},
		{
			name: "unknown nested key names full path and line",
			yaml: minimal + "server:\n  addr: :9000\n  adr: :9000\n",
			want: []string{`gatehouse.yaml:5: unknown key "server.adr" (did you mean "server.addr"?)`},
		},
		{
			name: "unknown deeply nested key",
			yaml: minimal + "password:\n  argon2:\n    memory: 1\n",
			want: []string{`gatehouse.yaml:5: unknown key "password.argon2.memory"`},
		},
		{
			name: "duration without unit",
			yaml: minimal + "server:\n  drain_delay: 5\n",
			want: []string{"gatehouse.yaml:4: cannot unmarshal !!int `5` into time.Duration", `needs a unit, e.g. "5s"`},
		},
		{
			name: "wrong type",
			yaml: minimal + "password:\n  min_length: ten\n",
			want: []string{"gatehouse.yaml:4: cannot unmarshal !!str `ten` into int"},
		},
		{
			name: "syntax error",
			yaml: "issuer: [unclosed\n",
			want: []string{"gatehouse.yaml:"},
		},
		{
			name: "second document",
			yaml: minimal + "---\nissuer: https://other\n",
			want: []string{"gatehouse.yaml:3: only one YAML document is allowed"},
		},
		{
			name: "secret given as a list",
			yaml: "issuer: https://id.example.com\nmaster_key: [a, b]\n",
			want: []string{"gatehouse.yaml:2: a secret must be a string"},
		},
		{
			name: "secret with a mismatched explicit tag is not quoted",
			yaml: "issuer: https://id.example.com\nmaster_key: !!int not*base64*S3CRET\n",
			want: []string{"master_key: not valid base64"},
		},
		{
			name: "unknown env var",
			yaml: minimal,
			env:  []string{"GATEHOUSE_SERVER_ADR=:9000"},
			want: []string{"GATEHOUSE_SERVER_ADR: unknown environment variable (did you mean GATEHOUSE_SERVER_ADDR?)"},
		},
		{
			name: "env values that do not parse",
			yaml: minimal,
			env: []string{
				"GATEHOUSE_SERVER_DRAIN_DELAY=5",
				"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=lots",
				"GATEHOUSE_DEV=maybe",
			},
			want: []string{
				`GATEHOUSE_SERVER_DRAIN_DELAY: "5" is not a duration`,
				`GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB: "lots" is not an integer`,
				`GATEHOUSE_DEV: "maybe" is not a boolean`,
			},
		},
		{
			name: "secret set inline and by file",
			yaml: minimal + "master_key_file: /run/secrets/mk\nstorage:\n  type: postgres\n  dsn: " + testDSN + "\n",
			env:  []string{"GATEHOUSE_STORAGE_DSN_FILE=/run/secrets/dsn"},
			want: []string{
				"master_key: master_key and master_key_file are both set",
				"storage.dsn: storage.dsn and storage.dsn_file are both set",
			},
		},
		{
			name: "unreadable secret file names key and path",
			yaml: "issuer: https://id.example.com\n",
			env:  []string{"GATEHOUSE_MASTER_KEY_FILE=" + missing},
			want: []string{"master_key_file: cannot read secret file: open " + missing},
		},
		{
			name: "master key of the wrong size",
			yaml: "issuer: https://id.example.com\nmaster_key: " + testShortKey + "\n",
			want: []string{"master_key: must decode to 32 bytes, got 16"},
		},
		{
			name: "metrics_addr not host:port",
			yaml: minimal + "server:\n  metrics_addr: localhost\n",
			want: []string{`server.metrics_addr: "localhost" is not host:port`},
		},
		{
			name: "metrics_addr bad port from env",
			yaml: minimal,
			env:  []string{"GATEHOUSE_SERVER_METRICS_ADDR=127.0.0.1:99999"},
			want: []string{`server.metrics_addr: "127.0.0.1:99999": port must be a number from 0 to 65535`},
		},
		{
			name: "metrics_addr equal to addr",
			yaml: minimal + "server:\n  addr: 127.0.0.1:8080\n  metrics_addr: 127.0.0.1:8080\n",
			want: []string{`server.metrics_addr: "127.0.0.1:8080" is server.addr`},
		},
		{
			name: "postgres without dsn",
			yaml: minimal + "storage:\n  type: postgres\n",
			want: []string{"storage.dsn: required when storage.type is postgres"},
		},
		{
			name: "http issuer outside dev",
			yaml: "issuer: http://id.example.com\nmaster_key: " + testKey + "\n",
			want: []string{`issuer: "http://id.example.com" must use https`},
		},
		{
			name: "many mistakes reported together",
			yaml: `issuer: https://id.example.com/?x=1
master_key: ` + testShortKey + `
server:
  addr: abc
  shutdown_timeout: 0s
  read_header_timeout: -1s
  drain_delay: -5s
  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33, nonsense]
log:
  level: verbose
  format: xml
storage:
  type: mysql
password:
  min_length: 4
  argon2:
    memory_kib: 64
    iterations: 600000
    parallelism: 0
    max_concurrent: -1
lockout:
  max_failures: 0
  duration: 48h
  ip_max_failures: -5
  ip_window: 0s
bootstrap:
  organization: ""
  admin_email: "Admin <admin@example.com>"
`,
			want: []string{
				`issuer: "https://id.example.com/?x=1" must not have a query or fragment`,
				"master_key: must decode to 32 bytes, got 16",
				`server.addr: "abc" is not host:port`,
				"server.shutdown_timeout: must be greater than 0, got 0s",
				"server.read_header_timeout: must be greater than 0, got -1s",
				"server.drain_delay: must be at least 0s, got -5s",
				`server.trusted_proxies[1]: "10.0.0.0/33" is not a CIDR`,
				`server.trusted_proxies[2]: "nonsense" is not a CIDR`,
				`log.level: "verbose" is not one of debug, info, warn, error`,
				`log.format: "xml" is not one of json, text`,
				`storage.type: "mysql" is not one of sqlite, postgres`,
				"password.min_length: must be between 8 and 1024, got 4",
				"password.argon2.memory_kib: must be between 1024 and 4194304, got 64",
				"password.argon2.iterations: must be between 1 and 100, got 600000",
				"password.argon2.parallelism: must be between 1 and 64, got 0",
				"password.argon2.max_concurrent: must be at least 0, got -1",
				"lockout.max_failures: must be between 1 and 1000, got 0",
				"lockout.duration: must be between 1s and 24h0m0s, got 48h0m0s",
				"lockout.ip_max_failures: must be between 1 and 1000000, got -5",
				"lockout.ip_window: must be between 1s and 24h0m0s, got 0s",
				"bootstrap.organization: required",
				`bootstrap.admin_email: "Admin <admin@example.com>" is not an email address`,
			},
			n: 22,
		},
		{
			name: "file, env and validation problems together",
			yaml: minimal + "servr: {}\nserver:\n  addr: nope\n",
			env:  []string{"GATEHOUSE_LOGG_LEVEL=debug"},
			want: []string{
				`gatehouse.yaml:3: unknown key "servr"`,
				"GATEHOUSE_LOGG_LEVEL: unknown environment variable",
				`server.addr: "nope" is not host:port`,
			},
			n: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Error("Load returned a non-zero Config with its error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			assertNoSecrets(t, "error", msg)
			if n := len(flatten(err)); tt.n > 0 && n != tt.n {
				t.Errorf("got %d problems, want %d:\n%s", n, tt.n, msg)
			}
		})
	}
}

// Every error from Load is a *FieldError naming where the problem is.
func TestLoadErrorsAreFieldErrors(t *testing.T) {
	_, err := loadYAML(t, minimal+"nope: 1\nserver:\n  addr: x\n", "GATEHOUSE_NOPE=1")
	var keys []string
	for _, e := range flatten(err) {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v (%T) is not a *FieldError", e, e)
		}
		keys = append(keys, fe.Key)
	}
	want := []string{"gatehouse.yaml:3", "GATEHOUSE_NOPE", "server.addr"}
	if len(keys) > 0 {
		keys[0] = filepath.Base(keys[0])
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "minimal file gets production defaults",
			yaml: minimal,
			check: func(t *testing.T, c Config) {
				want := Default()
				want.Issuer = "https://id.example.com"
				want.MasterKey = Secret(testKey)
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "no file, env only",
			env:  []string{"GATEHOUSE_ISSUER=https://id.example.com", "GATEHOUSE_MASTER_KEY=" + testKey},
			check: func(t *testing.T, c Config) {
				if c.Issuer != "https://id.example.com" || c.MasterKey.Reveal() != testKey {
					t.Errorf("issuer %q, master key set %v", c.Issuer, c.MasterKey != "")
				}
			},
		},
		{
			name: "env overrides file",
			yaml: minimal + "server:\n  addr: 0.0.0.0:9000\nlog:\n  level: warn\n",
			env: []string{
				"GATEHOUSE_SERVER_ADDR=127.0.0.1:9100",
				"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=65536",
				"GATEHOUSE_SERVER_DRAIN_DELAY=1m30s",
				"GATEHOUSE_SERVER_METRICS_ADDR=[::1]:9500",
				"GATEHOUSE_SERVER_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.1,",
				"GATEHOUSE_LOG_LEVEL=", // empty: ignored
				"PATH=/usr/bin",        // not ours
			},
			check: func(t *testing.T, c Config) {
				if c.Server.Addr != "127.0.0.1:9100" {
					t.Errorf("addr = %q", c.Server.Addr)
				}
				if c.Password.Argon2.MemoryKiB != 65536 {
					t.Errorf("memory_kib = %d", c.Password.Argon2.MemoryKiB)
				}
				if c.Server.DrainDelay != 90*time.Second {
					t.Errorf("drain_delay = %v", c.Server.DrainDelay)
				}
				if c.Server.MetricsAddr != "[::1]:9500" {
					t.Errorf("metrics_addr = %q", c.Server.MetricsAddr)
				}
				if want := []string{"10.0.0.0/8", "192.168.1.1"}; !slices.Equal(c.Server.TrustedProxies, want) {
					t.Errorf("trusted_proxies = %q, want %q", c.Server.TrustedProxies, want)
				}
				if c.Log.Level != "warn" {
					t.Errorf("log.level = %q, want the file's warn", c.Log.Level)
				}
			},
		},
		{
			name: "GATEHOUSE_TEST_ variables are ignored",
			yaml: minimal,
			env:  []string{"GATEHOUSE_TEST_POSTGRES=postgres://x", "GATEHOUSE_TEST_REQUIRE=postgres", "GATEHOUSE_TEST_ANYTHING_ELSE=1"},
		},
		{
			name: "metrics_addr and addr both on any free port",
			yaml: minimal + "server:\n  addr: 127.0.0.1:0\n  metrics_addr: 127.0.0.1:0\n",
		},
		{
			name: "metrics_addr from the file; empty means the main listener",
			yaml: minimal + "server:\n  metrics_addr: \"\"\n",
			check: func(t *testing.T, c Config) {
				if c.Server.MetricsAddr != "" {
					t.Errorf("metrics_addr = %q, want empty", c.Server.MetricsAddr)
				}
			},
		},
		{
			name: "durations",
			yaml: minimal + "server:\n  drain_delay: 0s\n  shutdown_timeout: 1m\n  read_header_timeout: 1500ms\n",
			check: func(t *testing.T, c Config) {
				got := []time.Duration{c.Server.DrainDelay, c.Server.ShutdownTimeout, c.Server.ReadHeaderTimeout}
				want := []time.Duration{0, time.Minute, 1500 * time.Millisecond}
				if !slices.Equal(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			},
		},
		{
			name: "storage.query_timeout from the file and the environment",
			yaml: minimal + "storage:\n  query_timeout: 3s\n",
			check: func(t *testing.T, c Config) {
				if c.Storage.QueryTimeout != 3*time.Second {
					t.Errorf("storage.query_timeout = %v, want the file's 3s", c.Storage.QueryTimeout)
				}
			},
		},
		{
			name: "GATEHOUSE_STORAGE_QUERY_TIMEOUT",
			yaml: minimal + "storage:\n  query_timeout: 3s\n",
			env:  []string{"GATEHOUSE_STORAGE_QUERY_TIMEOUT=1500ms"},
			check: func(t *testing.T, c Config) {
				if c.Storage.QueryTimeout != 1500*time.Millisecond {
					t.Errorf("storage.query_timeout = %v, want the environment's 1.5s", c.Storage.QueryTimeout)
				}
			},
		},
		{
			name: "empty file",
			yaml: "# nothing but a comment\n",
			env:  []string{"GATEHOUSE_DEV=1"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, DevDefault()) {
					t.Errorf("got %+v, want DevDefault", c)
				}
			},
		},
		{
			name: "null sections keep defaults; trailing document marker",
			yaml: minimal + "server:\nlog: ~\n---\n",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.Server, Default().Server) || c.Log != Default().Log {
					t.Errorf("server %+v log %+v", c.Server, c.Log)
				}
			},
		},
		{
			name: "postgres",
			yaml: minimal + "storage:\n  type: postgres\n  dsn: " + testDSN + "\n",
			check: func(t *testing.T, c Config) {
				if c.StorageDSN() != testDSN {
					t.Error("StorageDSN is not the configured dsn")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestDevMode(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		env   []string
		check func(t *testing.T, c Config, err error)
	}{
		{
			name: "no file and GATEHOUSE_DEV gives exactly DevDefault",
			env:  []string{"GATEHOUSE_DEV=true"},
			check: func(t *testing.T, c Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(c, DevDefault()) {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "dev in the file starts from dev defaults; the file still wins",
			yaml: "dev: true\nserver:\n  addr: 127.0.0.1:9999\n",
			check: func(t *testing.T, c Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
				want := DevDefault()
				want.Server.Addr = "127.0.0.1:9999"
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
				// Not zero: a drain delay of zero leaves no window in
				// which /readyz is 503 before connections close (issue 8).
				if c.Server.DrainDelay != time.Second || c.Log.Format != LogFormatText || c.Issuer != "http://localhost:8080" {
					t.Errorf("dev defaults not applied: %+v", c)
				}
			},
		},
		{
			name: "GATEHOUSE_DEV=false overrides the file",
			yaml: "dev: true\n",
			env:  []string{"GATEHOUSE_DEV=false"},
			check: func(t *testing.T, c Config, err error) {
				if err == nil || !strings.Contains(err.Error(), "issuer: required") {
					t.Errorf("want production defaults (issuer required), got %v", err)
				}
			},
		},
		{
			name: "dev allows http on loopback only",
			yaml: "dev: true\nissuer: http://gatehouse.test:8080\n",
			check: func(t *testing.T, c Config, err error) {
				if err == nil || !strings.Contains(err.Error(), "http is allowed only for localhost") {
					t.Errorf("got %v", err)
				}
			},
		},
		{
			name: "dev with [::1]",
			yaml: "dev: true\nissuer: http://[::1]:8080/gh\n",
			check: func(t *testing.T, c Config, err error) {
				if err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "dev still checks a master key that is set",
			yaml: "dev: true\nmaster_key: " + testShortKey + "\n",
			check: func(t *testing.T, c Config, err error) {
				if err == nil || !strings.Contains(err.Error(), "master_key: must decode to 32 bytes") {
					t.Errorf("got %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			tt.check(t, c, err)
		})
	}
}

func TestSecretFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"trailing newline trimmed", testKey + "\n", testKey},
		{"trailing CRLF trimmed", testKey + "\r\n", testKey},
		{"no newline", testKey, testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyFile := writeFile(t, "mk", tt.content)
			c, err := loadYAML(t, "issuer: https://id.example.com\nmaster_key_file: "+keyFile+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if c.MasterKey.Reveal() != tt.want {
				t.Errorf("master key not read from file as expected")
			}
			if c.MasterKeyFile != "" {
				t.Errorf("master_key_file = %q, want cleared after reading", c.MasterKeyFile)
			}
		})
	}

	t.Run("only one newline is trimmed", func(t *testing.T) {
		dsnFile := writeFile(t, "dsn", "dsn\n\n")
		c, err := Load("", []string{"GATEHOUSE_DEV=1", "GATEHOUSE_STORAGE_DSN_FILE=" + dsnFile})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Storage.DSN.Reveal(); got != "dsn\n" {
			t.Errorf("dsn = %q, want %q", got, "dsn\n")
		}
	})

	t.Run("env names the file", func(t *testing.T) {
		dsnFile := writeFile(t, "dsn", testDSN+"\n")
		c, err := loadYAML(t, minimal+"storage:\n  type: postgres\n", "GATEHOUSE_STORAGE_DSN_FILE="+dsnFile)
		if err != nil {
			t.Fatal(err)
		}
		if c.StorageDSN() != testDSN {
			t.Error("dsn not read from GATEHOUSE_STORAGE_DSN_FILE")
		}
	})

	t.Run("a bad key from a file is reported without its content", func(t *testing.T) {
		keyFile := writeFile(t, "mk", "not*base64*S3CRET\n")
		_, err := loadYAML(t, "issuer: https://id.example.com\nmaster_key_file: "+keyFile+"\n")
		if err == nil || !strings.Contains(err.Error(), "master_key: not valid base64") {
			t.Fatalf("got %v", err)
		}
		assertNoSecrets(t, "error", err.Error())
	})

	t.Run("too large", func(t *testing.T) {
		big := writeFile(t, "big", strings.Repeat("x", maxSecretFileSize+1))
		_, err := loadYAML(t, "issuer: https://id.example.com\n", "GATEHOUSE_MASTER_KEY_FILE="+big)
		if err == nil || !strings.Contains(err.Error(), "master_key_file: secret file "+fmt.Sprintf("%q", big)+" is larger than 64 KiB") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("empty", func(t *testing.T) {
		empty := writeFile(t, "empty", "\n")
		_, err := loadYAML(t, "issuer: https://id.example.com\n", "GATEHOUSE_MASTER_KEY_FILE="+empty)
		if err == nil || !strings.Contains(err.Error(), "master_key_file: secret file "+fmt.Sprintf("%q", empty)+" is empty") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("a directory", func(t *testing.T) {
		dir := t.TempDir()
		_, err := loadYAML(t, "issuer: https://id.example.com\n", "GATEHOUSE_MASTER_KEY_FILE="+dir)
		if err == nil || !strings.Contains(err.Error(), "master_key_file: cannot read secret file") || !strings.Contains(err.Error(), dir) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLoadMissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path, nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v", err)
	}
}

// fullConfig has every secret set, inline and (for the file variants) by path.
func fullConfig() Config {
	c := Default()
	c.Issuer = "https://id.example.com"
	c.MasterKey = Secret(testKey)
	c.Storage.Type, c.Storage.DSN = StoragePostgres, Secret(testDSN)
	return c
}

func TestRedaction(t *testing.T) {
	c := fullConfig()
	outputs := map[string]string{}

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", &c)
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		outputs["fmt "+verb+" config"] = fmt.Sprintf(verb, c)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, c.MasterKey)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["yaml"] = string(y)

	for what, out := range outputs {
		assertNoSecrets(t, what, out)
	}
	for _, what := range []string{"slog text", "slog json", "json", "yaml", "fmt %+v config"} {
		if strings.Count(outputs[what], Redacted) != 2 {
			t.Errorf("%s: want master_key and dsn each shown as %s:\n%s", what, Redacted, outputs[what])
		}
	}
	// The slog output is otherwise complete and keyed by yaml names.
	for _, want := range []string{"config.issuer=https://id.example.com", "config.master_key=[redacted]",
		"config.storage.dsn=[redacted]", "config.server.drain_delay=5s", "config.password.argon2.memory_kib=19456"} {
		if !strings.Contains(outputs["slog text"], want) {
			t.Errorf("slog text lacks %q:\n%s", want, outputs["slog text"])
		}
	}
	// An unset secret shows as empty, so logs tell set from unset.
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("unset secret prints %q", got)
	}
}

func TestEnvNames(t *testing.T) {
	want := []string{
		"GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL",
		"GATEHOUSE_BOOTSTRAP_ORGANIZATION",
		"GATEHOUSE_CONSOLE_REQUIRE_MFA",
		"GATEHOUSE_DATA_DIR",
		"GATEHOUSE_DEV",
		"GATEHOUSE_INVITE_TTL",
		"GATEHOUSE_ISSUER",
		"GATEHOUSE_LOCKOUT_DURATION",
		"GATEHOUSE_LOCKOUT_IP_MAX_FAILURES",
		"GATEHOUSE_LOCKOUT_IP_WINDOW",
		"GATEHOUSE_LOCKOUT_MAX_FAILURES",
		"GATEHOUSE_LOG_FORMAT",
		"GATEHOUSE_LOG_LEVEL",
		"GATEHOUSE_MAIL_TEMPLATES_DIR",
		"GATEHOUSE_MASTER_KEY",
		"GATEHOUSE_MASTER_KEY_FILE",
		"GATEHOUSE_PASSWORD_ARGON2_ITERATIONS",
		"GATEHOUSE_PASSWORD_ARGON2_MAX_CONCURRENT",
		"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB",
		"GATEHOUSE_PASSWORD_ARGON2_PARALLELISM",
		"GATEHOUSE_PASSWORD_BREACH_CHECK_ENABLED",
		"GATEHOUSE_PASSWORD_BREACH_CHECK_TIMEOUT",
		"GATEHOUSE_PASSWORD_BREACH_CHECK_URL",
		"GATEHOUSE_PASSWORD_MAX_AGE",
		"GATEHOUSE_PASSWORD_MIN_AGE",
		"GATEHOUSE_PASSWORD_MIN_LENGTH",
		"GATEHOUSE_RESET_ADDRESS_LIMIT",
		"GATEHOUSE_RESET_ENABLED",
		"GATEHOUSE_RESET_IP_LIMIT",
		"GATEHOUSE_RESET_LIMIT_WINDOW",
		"GATEHOUSE_RESET_TTL",
		"GATEHOUSE_SAML_KEY_BITS",
		"GATEHOUSE_SAML_METADATA_REFRESH",
		"GATEHOUSE_SERVER_ADDR",
		"GATEHOUSE_SERVER_DRAIN_DELAY",
		"GATEHOUSE_SERVER_METRICS_ADDR",
		"GATEHOUSE_SERVER_READ_HEADER_TIMEOUT",
		"GATEHOUSE_SERVER_SHUTDOWN_TIMEOUT",
		"GATEHOUSE_SERVER_TRUSTED_PROXIES",
		"GATEHOUSE_SMS_ALLOWED_COUNTRIES",
		"GATEHOUSE_SMS_CAPS_PER_ACCOUNT",
		"GATEHOUSE_SMS_CAPS_PER_IP",
		"GATEHOUSE_SMS_CAPS_PER_NUMBER",
		"GATEHOUSE_SMS_CAPS_PER_ORG",
		"GATEHOUSE_SMS_FROM",
		"GATEHOUSE_SMS_PROVIDER",
		"GATEHOUSE_SMS_TIMEOUT",
		"GATEHOUSE_SMS_TWILIO_ACCOUNT_SID",
		"GATEHOUSE_SMS_TWILIO_AUTH_TOKEN",
		"GATEHOUSE_SMS_TWILIO_AUTH_TOKEN_FILE",
		"GATEHOUSE_SMS_TWILIO_BASE_URL",
		"GATEHOUSE_SMS_TWILIO_MESSAGING_SERVICE_SID",
		"GATEHOUSE_SMS_WEBHOOK_SECRET",
		"GATEHOUSE_SMS_WEBHOOK_SECRET_FILE",
		"GATEHOUSE_SMS_WEBHOOK_URL",
		"GATEHOUSE_SMTP_FROM",
		"GATEHOUSE_SMTP_HOST",
		"GATEHOUSE_SMTP_PASSWORD",
		"GATEHOUSE_SMTP_PASSWORD_FILE",
		"GATEHOUSE_SMTP_PORT",
		"GATEHOUSE_SMTP_TIMEOUT",
		"GATEHOUSE_SMTP_TLS",
		"GATEHOUSE_SMTP_USERNAME",
		"GATEHOUSE_STORAGE_DSN",
		"GATEHOUSE_STORAGE_DSN_FILE",
		"GATEHOUSE_STORAGE_QUERY_TIMEOUT",
		"GATEHOUSE_STORAGE_TYPE",
	}
	got := EnvNames()
	if !slices.Equal(got, want) {
		t.Errorf("EnvNames() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if key, ok := EnvKey("GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB"); !ok || key != "password.argon2.memory_kib" {
		t.Errorf("EnvKey = %q, %v", key, ok)
	}
	// Every name is accepted by Load.
	var env []string
	for _, name := range got {
		env = append(env, name+"=")
	}
	if _, err := loadYAML(t, minimal, env...); err != nil {
		t.Errorf("Load rejects a name from EnvNames: %v", err)
	}
}

// The derivations in fields.go rely on every field having a yaml tag and
// every secret tag naming a string sibling.
func TestStructTags(t *testing.T) {
	eachStructType(reflect.TypeFor[Config](), "", func(key string, st reflect.Type) {
		for i := range st.NumField() {
			if f := st.Field(i); f.IsExported() && yamlKey(f) == "" {
				t.Errorf("%s.%s has no yaml tag", st, f.Name)
			}
		}
	})
	c := Default()
	var keys []string
	for _, p := range secretPairs(reflect.ValueOf(&c).Elem()) {
		keys = append(keys, p.key+"/"+p.fileKey)
	}
	if want := []string{"master_key/master_key_file", "storage.dsn/storage.dsn_file", "smtp.password/smtp.password_file",
		"sms.twilio.auth_token/sms.twilio.auth_token_file", "sms.webhook.secret/sms.webhook.secret_file"}; !slices.Equal(keys, want) {
		t.Errorf("secret pairs = %q, want %q", keys, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // empty: valid
	}{
		{"full config is valid", func(c *Config) {}, nil},
		{"issuer with a path", func(c *Config) { c.Issuer = "https://example.com/idp" }, nil},
		{"bare IP trusted proxy", func(c *Config) { c.Server.TrustedProxies = []string{"10.1.2.3", "::1", "fd00::/8"} }, nil},
		{"port 0", func(c *Config) { c.Server.Addr = "127.0.0.1:0" }, nil},
		{"unread master_key_file is not a missing key", func(c *Config) { c.MasterKey, c.MasterKeyFile = "", "/run/secrets/mk" }, nil},
		{"relative issuer", func(c *Config) { c.Issuer = "id.example.com" }, []string{"issuer: must be an absolute https URL"}},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://id.example.com" }, []string{"issuer: must be an absolute https URL"}},
		{"fragment", func(c *Config) { c.Issuer = "https://id.example.com#" }, []string{"must not have a query or fragment"}},
		{"trailing slash", func(c *Config) { c.Issuer = "https://id.example.com/" }, []string{`issuer: "https://id.example.com/" must not end with a slash`}},
		{"http outside dev, with slash", func(c *Config) { c.Issuer = "http://localhost/" },
			[]string{`"http://localhost/" must use https`, "must not end with a slash"}},
		{"user info is not echoed", func(c *Config) { c.Issuer = "https://u:hunter2-s3cret@id.example.com" },
			[]string{`issuer: "https://u:xxxxx@id.example.com" must not contain user info`}},
		{"port out of range", func(c *Config) { c.Server.Addr = ":70000" }, []string{`server.addr: ":70000": port must be a number`}},
		{"named port", func(c *Config) { c.Server.Addr = ":http" }, []string{`server.addr: ":http": port must be a number`}},
		{"zoned proxy", func(c *Config) { c.Server.TrustedProxies = []string{"fe80::1%eth0"} }, []string{"server.trusted_proxies[0]:"}},
		{"empty data_dir", func(c *Config) { c.DataDir = "" }, []string{"data_dir: required"}},
		{"both secrets inline and by file", func(c *Config) { c.MasterKeyFile = "/x"; c.Storage.DSNFile = "/y" },
			[]string{"master_key: master_key and master_key_file are both set", "storage.dsn: storage.dsn and storage.dsn_file are both set"}},
		{"postgres dsn by unread file is fine", func(c *Config) { c.Storage.DSN, c.Storage.DSNFile = "", "/run/secrets/dsn" }, nil},
		{"query timeout of a minute", func(c *Config) { c.Storage.QueryTimeout = time.Minute }, nil},
		{"zero query timeout", func(c *Config) { c.Storage.QueryTimeout = 0 }, []string{"storage.query_timeout: must be greater than 0, got 0s"}},
		{"negative query timeout", func(c *Config) { c.Storage.QueryTimeout = -time.Second }, []string{"storage.query_timeout: must be greater than 0, got -1s"}},
		{"query timeout over a minute", func(c *Config) { c.Storage.QueryTimeout = time.Minute + time.Second },
			[]string{"storage.query_timeout: must be at most 1m0s, got 1m1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fullConfig()
			tt.mutate(&c)
			err := c.Validate()
			assertProblems(t, err, tt.want)
		})
	}
}

func TestDefaults(t *testing.T) {
	dev := DevDefault()
	if err := dev.Validate(); err != nil {
		t.Errorf("DevDefault is invalid: %v", err)
	}
	c := Default()
	if c.Storage.QueryTimeout != 5*time.Second {
		t.Errorf("storage.query_timeout default = %v, want 5s", c.Storage.QueryTimeout)
	}
	if err := c.Validate(); err == nil || len(flatten(err)) != 2 {
		t.Errorf("Default should lack exactly issuer and master_key, got %v", err)
	}
	if c.Server.MetricsAddr != "127.0.0.1:9464" || dev.Server.MetricsAddr != "" {
		t.Errorf("metrics_addr defaults: %q, dev %q; want 127.0.0.1:9464 and empty (the main listener)", c.Server.MetricsAddr, dev.Server.MetricsAddr)
	}
	if c.DataDir != "./gatehouse-data" || c.Server.Addr != ":8080" || c.Server.DrainDelay != 5*time.Second ||
		c.Password.Argon2.MemoryKiB != 19456 || c.Bootstrap.Organization != "default" {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestHelpers(t *testing.T) {
	c := DevDefault()
	c.DataDir = "/var/lib/gatehouse"
	if got := c.SQLitePath(); got != "/var/lib/gatehouse/gatehouse.db" {
		t.Errorf("SQLitePath() = %q", got)
	}
	if got := c.StorageDSN(); got != "/var/lib/gatehouse/gatehouse.db" {
		t.Errorf("StorageDSN() = %q", got)
	}
	c.Storage.DSN = "/tmp/x.db"
	if got := c.SQLitePath(); got != "/tmp/x.db" {
		t.Errorf("SQLitePath() with dsn = %q", got)
	}

	if _, err := c.MasterKeyBytes(); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("MasterKeyBytes unset: %v", err)
	}
	for _, k := range []string{testKey, testKeyRaw} {
		c.MasterKey = Secret(k)
		if b, err := c.MasterKeyBytes(); err != nil || len(b) != 32 {
			t.Errorf("MasterKeyBytes: %d bytes, %v", len(b), err)
		}
	}
	c.MasterKey = Secret(testShortKey)
	if _, err := c.MasterKeyBytes(); err == nil {
		t.Error("MasterKeyBytes accepted a 16-byte key")
	}

	levels := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}
	for name, want := range levels {
		if got := (Log{Level: name}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v", name, got)
		}
	}

	s := Server{TrustedProxies: []string{"10.1.2.3/8", "192.168.0.7", "::1", "junk"}}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.7/32"), netip.MustParsePrefix("::1/128")}
	if got := s.TrustedProxyPrefixes(); !slices.Equal(got, want) {
		t.Errorf("TrustedProxyPrefixes() = %v, want %v", got, want)
	}
}
