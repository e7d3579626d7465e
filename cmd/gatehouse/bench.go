package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-idp/gatehouse/config"
	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// benchFlags are the flags of `gatehouse bench login|token`.
type benchFlags struct {
	issuer, client, redirectURI, email, scope, grant string
	secretStdin, passwordStdin                       bool
	n, c                                             int
	hashTime                                         time.Duration
}

const (
	benchLoginUsage = "--issuer URL --client ID --client-secret-stdin --redirect-uri URI --email EMAIL --password-stdin [-n N] [-c C]"
	benchTokenUsage = "--grant client_credentials --issuer URL --client ID --client-secret-stdin [--scope S] [-n N] [-c C]"
)

func benchCommonFlags(fs *flag.FlagSet, c *cmdEnv) {
	b := &c.bench
	fs.StringVar(&b.issuer, "issuer", "", "the server's issuer URL, exactly as its discovery document names it (required)")
	fs.StringVar(&b.client, "client", "", "client_id of a confidential client (required)")
	fs.BoolVar(&b.secretStdin, "client-secret-stdin", false, "read the client secret from the first line of standard input (required)")
	fs.IntVar(&b.n, "n", 100, "operations to run")
	fs.IntVar(&b.c, "c", 4, "operations in flight at once")
}

func benchLoginFlags(fs *flag.FlagSet, c *cmdEnv) {
	benchCommonFlags(fs, c)
	b := &c.bench
	fs.StringVar(&b.redirectURI, "redirect-uri", "", "a redirect URI registered for the client; it is never fetched (required)")
	fs.StringVar(&b.email, "email", "", "the user who logs in (required)")
	fs.BoolVar(&b.passwordStdin, "password-stdin", false, "read the user's password from standard input, the line after the client secret (required)")
	fs.StringVar(&b.scope, "scope", "openid email profile", "scope to request")
	fs.DurationVar(&b.hashTime, "hash-time", 3*time.Second, "how long to measure the raw argon2id rate before the run (0: skip)")
}

func benchTokenFlags(fs *flag.FlagSet, c *cmdEnv) {
	benchCommonFlags(fs, c)
	b := &c.bench
	fs.StringVar(&b.grant, "grant", "client_credentials", "grant to request (client_credentials)")
	fs.StringVar(&b.scope, "scope", "", "scope to request")
}

// benchCommands are the `gatehouse bench` verbs.
func benchCommands() []command {
	return []command{
		{name: "bench login", summary: "drive full browser logins against a server and report their rate and latency",
			usage: benchLoginUsage, run: runBenchLogin, flags: benchLoginFlags},
		{name: "bench token", summary: "drive token requests against a server and report their rate and latency",
			usage: benchTokenUsage, run: runBenchToken, flags: benchTokenFlags},
	}
}

// check reports the flags a bench verb lacks or gets wrong, as a usage
// error.
func (b benchFlags) check(login bool) error {
	var missing []string
	for name, empty := range map[string]bool{"--issuer": b.issuer == "", "--client": b.client == "",
		"--client-secret-stdin": !b.secretStdin} {
		if empty {
			missing = append(missing, name)
		}
	}
	if login {
		for name, empty := range map[string]bool{"--redirect-uri": b.redirectURI == "", "--email": b.email == "",
			"--password-stdin": !b.passwordStdin} {
			if empty {
				missing = append(missing, name)
			}
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("%w: %s required", errUsage, strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	case b.n < 1 || b.c < 1:
		return fmt.Errorf("%w: -n and -c must be at least 1", errUsage)
	case !login && b.grant != "client_credentials":
		return fmt.Errorf("%w: --grant %q: only client_credentials is supported", errUsage, b.grant)
	}
	if u, err := url.Parse(b.issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: --issuer %q is not an http(s) URL", errUsage, b.issuer)
	}
	if login {
		if u, err := url.Parse(b.redirectURI); err != nil || u.Scheme == "" {
			return fmt.Errorf("%w: --redirect-uri %q is not an absolute URI", errUsage, b.redirectURI)
		}
	}
	return nil
}

// readLines reads n lines from r (client secret, then password), with the
// rules of readPassword: one line each, the newline not part of it.
func readLines(r io.Reader, names ...string) ([]string, error) {
	br := bufio.NewReader(io.LimitReader(r, int64(len(names))*maxPasswordInput))
	out := make([]string, len(names))
	for i, name := range names {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read %s from standard input: %w", name, err)
		}
		out[i] = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if out[i] == "" {
			return nil, fmt.Errorf("standard input held no %s (line %d)", name, i+1)
		}
	}
	return out, nil
}

// benchTransport is shared by every simulated browser: each has its own
// cookie jar, but connections are reused as a browser reuses its own.
func benchTransport(c int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*c, 2*c
	return tr
}

// discover fetches the issuer's discovery document; an issuer that does
// not answer as an OpenID provider is a clear error, not a run of failures.
func discover(ctx context.Context, hc *http.Client, issuer string) (*oidc.Provider, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, hc), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: discovery failed (is it the server's issuer, exactly, and is the server up?): %w", issuer, err)
	}
	return p, nil
}

// runConcurrently runs op n times, c at a time, and returns the wall time.
func runConcurrently(ctx context.Context, n, c int, rec *benchRecorder, op func(ctx context.Context) string) time.Duration {
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				t0 := time.Now()
				kind := op(ctx)
				rec.record(time.Since(t0), kind)
			}
		}()
	}
feed:
	for range n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return time.Since(start)
}

func runBenchLogin(ctx context.Context, c *cmdEnv) error {
	b := c.bench
	if err := b.check(true); err != nil {
		return err
	}
	secrets, err := readLines(c.io.in, "client secret", "password")
	if err != nil {
		return err
	}
	cfg, err := c.loadConfig(false)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: benchTransport(b.c), Timeout: time.Minute}
	prov, err := discover(ctx, hc, b.issuer)
	if err != nil {
		return err
	}
	lc := &loginClient{issuer: b.issuer, clientID: b.client, secret: secrets[0], redirectURI: b.redirectURI,
		email: b.email, password: secrets[1], scope: b.scope, transport: hc.Transport, prov: prov,
		verifier: prov.VerifierContext(oidc.ClientContext(ctx, hc), &oidc.Config{ClientID: b.client})}
	// One untimed login warms the connections and the JWKS cache.
	if kind := lc.flow(ctx); kind != "" {
		fmt.Fprintf(c.io.err, "gatehouse bench login: the warm-up login failed: %s\n", kind)
	}
	params, limit := hashParams(cfg)
	var raw float64
	if b.hashTime > 0 {
		// Measured before the run, while the server is idle, on this machine.
		raw = argon2Rate(ctx, params, limit, b.hashTime)
	}
	rec := &benchRecorder{}
	elapsed := runConcurrently(ctx, b.n, b.c, rec, lc.flow)
	s := rec.summary(elapsed)
	w := c.io.out
	fmt.Fprintf(w, "gatehouse bench login: %s, client %s, -n %d -c %d\n", b.issuer, b.client, b.n, b.c)
	s.print(w, "flows")
	if raw > 0 {
		fmt.Fprintf(w, "  %-10s %.1f hashes/s raw (m=%d KiB, t=%d, p=%d; %d at once, as the server's limit)\n", "argon2id",
			raw, params.MemoryKiB, params.Iterations, params.Parallelism, limit)
		fmt.Fprintf(w, "  %-10s %.2f (flows/s ÷ raw argon2id rate)\n", "ratio", s.PerSec/raw)
	}
	if s.Failed > 0 {
		return fmt.Errorf("%d of %d logins failed", s.Failed, s.OK+s.Failed)
	}
	return nil
}

// hashParams are the argon2id parameters and concurrency limit the server
// runs with, from the config the other commands load (--config, the
// environment, the dev defaults).
func hashParams(cfg config.Config) (password.Params, int) {
	a := cfg.Password.Argon2
	limit := a.MaxConcurrent
	if limit <= 0 {
		limit = password.DefaultMaxConcurrent()
	}
	// Validate bounds these, so the conversions cannot overflow.
	return password.Params{MemoryKiB: uint32(a.MemoryKiB), Iterations: uint32(a.Iterations), Parallelism: uint8(a.Parallelism)}, limit
}

// argon2Rate is how many hashes per second limit goroutines compute with
// p, through the same Hasher the server uses, over about d.
func argon2Rate(ctx context.Context, p password.Params, limit int, d time.Duration) float64 {
	h := password.NewHasher(p, limit)
	_, _ = h.Hash(ctx, "warm-up")
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, err := h.Hash(ctx, "gatehouse bench password"); err != nil {
					return
				}
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func runBenchToken(ctx context.Context, c *cmdEnv) error {
	b := c.bench
	if err := b.check(false); err != nil {
		return err
	}
	secrets, err := readLines(c.io.in, "client secret")
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: benchTransport(b.c), Timeout: time.Minute}
	prov, err := discover(ctx, hc, b.issuer)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {b.grant}}
	if b.scope != "" {
		form.Set("scope", b.scope)
	}
	body := form.Encode()
	op := func(ctx context.Context) string {
		_, kind := tokenRequest(ctx, hc, prov.Endpoint().TokenURL, b.client, secrets[0], body)
		return kind
	}
	if kind := op(ctx); kind != "" {
		fmt.Fprintf(c.io.err, "gatehouse bench token: the warm-up request failed: %s\n", kind)
	}
	rec := &benchRecorder{}
	elapsed := runConcurrently(ctx, b.n, b.c, rec, op)
	s := rec.summary(elapsed)
	fmt.Fprintf(c.io.out, "gatehouse bench token: %s, client %s, grant %s, -n %d -c %d\n", b.issuer, b.client, b.grant, b.n, b.c)
	s.print(c.io.out, "tokens")
	if s.Failed > 0 {
		return fmt.Errorf("%d of %d token requests failed", s.Failed, s.OK+s.Failed)
	}
	return nil
}
