package pwned

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/password"
)

// DefaultBaseURL is the public service; its range endpoint is
// DefaultBaseURL + "/range/{prefix}".
const DefaultBaseURL = "https://api.pwnedpasswords.com"

// DefaultTimeout bounds one lookup: a password change waits for it, and
// on timeout the change goes ahead without the check.
const DefaultTimeout = 2 * time.Second

// maxBody bounds the answer. A padded answer is 800 to 1,000 lines of 40
// bytes or so; anything far larger is not the service we meant to ask.
const maxBody = 1 << 20

// Client implements password.Breacher over the range API.
type Client struct {
	// BaseURL is where the API lives ("" means DefaultBaseURL); tests and
	// self-hosted mirrors point it elsewhere.
	BaseURL string
	// Timeout bounds one lookup (0 means DefaultTimeout).
	Timeout time.Duration
	// HTTP is the client used (nil means http.DefaultClient).
	HTTP *http.Client
}

var _ password.Breacher = (*Client)(nil)

// Breached reports whether the service knows pw. An error means it could
// not tell: unreachable, too slow, a status other than 200, or a body that
// is not the range format.
func (c *Client) Breached(ctx context.Context, pw string) (bool, error) {
	sum := sha1.Sum([]byte(pw))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := h[:5], h[5:]

	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/range/"+prefix, nil)
	if err != nil {
		return false, errors.New("pwned: the base URL is not a valid URL")
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "gatehouse-idp")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// A *url.Error names the URL, and so the prefix: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Errorf("pwned: no answer within %s: %w", timeout, err)
		}
		return false, fmt.Errorf("pwned: request failed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return false, fmt.Errorf("pwned: the service answered %s", resp.Status)
	}
	return scan(io.LimitReader(resp.Body, maxBody+1), suffix)
}

// scan reads "SUFFIX:COUNT" lines and reports whether suffix is among them
// with a count above zero; count-0 lines are the padding.
func scan(r io.Reader, suffix string) (bool, error) {
	sc := bufio.NewScanner(r)
	read, found := 0, false
	for sc.Scan() {
		line := sc.Text()
		read += len(line) + 1
		if read > maxBody {
			return false, fmt.Errorf("pwned: the answer is larger than %d bytes", maxBody)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		s, n, ok := strings.Cut(line, ":")
		count, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if !ok || len(s) != 35 || err != nil || count < 0 {
			return false, errors.New("pwned: the answer is not in the range format (SUFFIX:COUNT lines)")
		}
		if count > 0 && strings.EqualFold(s, suffix) {
			found = true // keep reading: a malformed answer must not count
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("pwned: reading the answer: %w", err)
	}
	return found, nil
}
