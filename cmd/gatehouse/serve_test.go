package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/keys"
	"github.com/gatehouse-idp/gatehouse/idp/masterkey"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// proc is a gatehouse process started from the test binary (see TestMain).
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	mu      sync.Mutex
	stdout  bytes.Buffer
	stderr  bytes.Buffer
	lines   chan string
	done    chan error
}

func startGatehouse(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{lines: make(chan string, 1024), done: make(chan error, 1)}
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(append(os.Environ(), "GATEHOUSE_TEST_EXEC_MAIN=1"), append(cheapArgon, env...)...)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.out(), p.errOut())
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *proc) out() string    { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) errOut() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

var servingRE = regexp.MustCompile(`gatehouse is serving.*addr=([0-9.:\[\]]+)`)

// waitServing reads the log until the serving line and returns the base URL.
// The timeout only guards against a hung process.
func (p *proc) waitServing(t *testing.T) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("gatehouse exited before serving")
			}
			if m := servingRE.FindStringSubmatch(line); m != nil {
				return "http://" + m[1]
			}
		case <-timeout:
			t.Fatal("gatehouse did not start serving within 60 s")
		}
	}
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("gatehouse exited with %v after SIGTERM; want exit 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("gatehouse did not exit within 60 s of SIGTERM")
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	passwordRE   = regexp.MustCompile(`password: (\S+)`)
	consoleURLRE = regexp.MustCompile(`\n  console:  http://localhost:\d+/admin\n`)
)

func TestServeDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gatehouse-data")
	args := []string{"serve", "--dev", "--data-dir", dir, "--addr", "127.0.0.1:0"}

	p := startGatehouse(t, nil, args...)
	base := p.waitServing(t)
	resp, _ := get(t, base+"/readyz")
	readyAfter := time.Since(p.started)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", resp.StatusCode)
	}
	// Reported, not asserted: timed assertions do not belong in tests.
	t.Logf("serve --dev on SQLite: /readyz 200 %v after process start (first start, migrations included)", readyAfter.Round(time.Millisecond))

	m := passwordRE.FindStringSubmatch(p.out())
	if m == nil || len(m[1]) < 20 || !strings.Contains(p.out(), "admin@localhost") {
		t.Fatalf("first start did not print the bootstrap admin:\n%s", p.out())
	}
	if !consoleURLRE.MatchString(p.out()) {
		t.Fatalf("first start did not print the console's URL beside the password:\n%s", p.out())
	}
	if strings.Contains(p.errOut(), m[1]) {
		t.Fatal("the bootstrap password reached the log")
	}
	resp, body := get(t, base+"/healthz")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("/healthz = %d %q, headers %v", resp.StatusCode, body, resp.Header)
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, "gatehouse_http_requests_total") {
		t.Fatal("/metrics lacks the request counter")
	}
	st, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v, mode %v", err, st.Mode().Perm())
	}
	p.stop(t)

	// Second start: same data, no new admin, no password printed.
	p2 := startGatehouse(t, nil, args...)
	base = p2.waitServing(t)
	if resp, _ := get(t, base+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("second start /readyz = %d", resp.StatusCode)
	}
	t.Logf("serve --dev restart: /readyz 200 %v after process start", time.Since(p2.started).Round(time.Millisecond))
	if strings.Contains(p2.out(), "password:") {
		t.Fatalf("second start printed a password again:\n%s", p2.out())
	}
	p2.stop(t)

	r := runCLI(t, "", "users", "list", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.out, "admin@localhost") || strings.Count(r.out, "\n") != 2 {
		t.Fatalf("users list after two starts:\n%s%s", r.out, r.errOut)
	}
}

var metricsRE = regexp.MustCompile(`gatehouse is serving.* metrics=([0-9.:\[\]]+)`)

// TestServeMetricsListener: outside dev mode /metrics is on its own
// listener (server.metrics_addr) and not on the public one; dev mode keeps
// it on the main listener (TestServeDev).
func TestServeMetricsListener(t *testing.T) {
	key, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "gatehouse.yaml")
	// Without SMTP, forgot-password must be off outside dev mode
	// (TestServeResetNeedsMail).
	cfg := fmt.Sprintf("issuer: https://id.example.com\nmaster_key: %s\nlog:\n  format: text\nreset:\n  enabled: false\n", key)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Port 0 instead of the default 127.0.0.1:9464, so parallel runs do
	// not collide; the default itself is checked in config's tests.
	env := []string{"GATEHOUSE_SERVER_METRICS_ADDR=127.0.0.1:0"}
	p := startGatehouse(t, env, "serve", "--config", cfgPath, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	base := p.waitServing(t)
	m := metricsRE.FindStringSubmatch(p.errOut())
	if m == nil {
		t.Fatalf("serving line lacks the metrics address:\n%s", p.errOut())
	}
	if resp, _ := get(t, base+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz = %d", resp.StatusCode)
	}
	if resp, _ := get(t, base+"/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main listener = %d; want 404 outside dev mode", resp.StatusCode)
	}
	if resp, body := get(t, "http://"+m[1]+"/metrics"); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `gatehouse_http_requests_total{code="200",method="GET",route="GET /readyz"}`) {
		t.Errorf("/metrics on %s = %d, want 200 counting the main listener's requests", m[1], resp.StatusCode)
	}
	p.stop(t)
}

// TestServeResetNeedsMail: outside dev mode, forgot-password without SMTP
// would fail every user who tries it, so serve refuses to start and says
// which setting needs email and what to change.
func TestServeResetNeedsMail(t *testing.T) {
	key, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cfg := fmt.Sprintf("issuer: https://id.example.com\nmaster_key: %s\nserver:\n  metrics_addr: \"\"\n", key)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "serve", "--config", cfgPath, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	if r.code != 1 || !strings.Contains(r.errOut, "reset.enabled") || !strings.Contains(r.errOut, "smtp.host") {
		t.Fatalf("serve without SMTP and with reset on: exit %d\n%s", r.code, r.errOut)
	}
}

func TestServeTwoInstancesOnPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	key, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cfg := fmt.Sprintf("issuer: http://localhost:8080\ndev: true\nstorage:\n  type: postgres\nmaster_key: %s\n", key)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"GATEHOUSE_STORAGE_DSN=" + dsn}
	args := []string{"serve", "--config", cfgPath, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}

	// Both start at the same moment against an empty database: the
	// migration advisory lock must serialise them.
	a := startGatehouse(t, env, args...)
	b := startGatehouse(t, env, args...)
	var bases []string
	for _, p := range []*proc{a, b} {
		base := p.waitServing(t)
		if resp, _ := get(t, base+"/readyz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz = %d", resp.StatusCode)
		}
		bases = append(bases, base)
	}
	// One key set was created, and both publish it as soon as they serve
	// (not after a cache expires): a token signed by either verifies with
	// the other's /keys.
	kidsA, kidsB := jwksKIDs(t, bases[0]), jwksKIDs(t, bases[1])
	if len(kidsA) != len(keys.Algorithms()) || !slices.Equal(kidsA, kidsB) {
		t.Errorf("JWKS at start: A publishes %v, B %v; want the same %d keys (one set)", kidsA, kidsB, len(keys.Algorithms()))
	}
	// Exactly one of them created the bootstrap admin.
	printed := strings.Count(a.out()+b.out(), "password:")
	if printed != 1 {
		t.Fatalf("bootstrap admin printed %d times; want 1", printed)
	}
	a.stop(t)
	b.stop(t)
}

// jwksKIDs returns the sorted key ids an instance publishes.
func jwksKIDs(t *testing.T, base string) []string {
	t.Helper()
	resp, body := get(t, base+"/keys")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/keys = %d %s", resp.StatusCode, body)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("/keys: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	return kids
}

// A start that cannot bind its port creates nothing: no data directory, no
// master key, no bootstrap admin whose password would be printed for an
// instance that never ran.
func TestServeDevBusyPortCreatesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "gatehouse-data")
	r := runCLI(t, "", "serve", "--dev", "--data-dir", dir, "--addr", busy.Addr().String())
	if r.code == 0 {
		t.Fatalf("serve on a busy port exited 0")
	}
	if !strings.Contains(r.errOut, "in use") {
		t.Errorf("error does not say the address is in use:\n%s", r.errOut)
	}
	if strings.Contains(r.out, "password:") {
		t.Errorf("serve on a busy port printed a bootstrap password:\n%s", r.out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve on a busy port left a data directory (stat: %v)", err)
	}
}

// freePort returns a loopback port nothing listens on (as far as anyone can
// tell: it was free a moment ago).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func discoveredIssuer(t *testing.T, base string) string {
	t.Helper()
	resp, body := get(t, base+"/.well-known/openid-configuration")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery = %d %s", resp.StatusCode, body)
	}
	var d struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return d.Issuer
}

// In dev mode the issuer follows the port served on unless it was set.
func TestServeDevIssuerFollowsAddr(t *testing.T) {
	t.Run("default issuer follows --addr", func(t *testing.T) {
		port := freePort(t)
		p := startGatehouse(t, nil, "serve", "--dev", "--data-dir", t.TempDir(), "--addr", fmt.Sprintf("127.0.0.1:%d", port))
		base := p.waitServing(t)
		if got, want := discoveredIssuer(t, base), fmt.Sprintf("http://localhost:%d", port); got != want {
			t.Errorf("issuer = %s, want %s", got, want)
		}
		p.stop(t)
	})
	t.Run("explicit issuer is kept, with a warning", func(t *testing.T) {
		p := startGatehouse(t, []string{"GATEHOUSE_ISSUER=http://localhost:8080"},
			"serve", "--dev", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
		base := p.waitServing(t)
		if got := discoveredIssuer(t, base); got != "http://localhost:8080" {
			t.Errorf("issuer = %s, want the explicit http://localhost:8080", got)
		}
		if !strings.Contains(p.errOut(), "does not listen on") {
			t.Errorf("no warning that the issuer's port is not served:\n%s", p.errOut())
		}
		p.stop(t)
	})
	t.Run("issuer from the config file is kept", func(t *testing.T) {
		cfgPath := filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(cfgPath, []byte("dev: true\nissuer: http://localhost:7000\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startGatehouse(t, nil, "serve", "--config", cfgPath, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
		base := p.waitServing(t)
		if got := discoveredIssuer(t, base); got != "http://localhost:7000" {
			t.Errorf("issuer = %s, want the configured http://localhost:7000", got)
		}
		p.stop(t)
	})
}
