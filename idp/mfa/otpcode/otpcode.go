package otpcode

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/lockout"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

const (
	// Digits is a code's length: 10^6 codes, of which an attacker gets
	// MaxMisses tries per code sent, and the sends are capped.
	Digits = 6
	// MaxTTL bounds a code's life.
	MaxTTL = 10 * time.Minute
	// MaxMisses wrong tries burn a code: the user must send a new one.
	MaxMisses = 5
)

// Limiter counts one event under key and reports whether it was within
// its limit (lockout.Window). An error is an outage.
type Limiter interface {
	Allow(ctx context.Context, key string) (bool, error)
}

var _ Limiter = (*lockout.Window)(nil)

// codeSpace is the number of codes: 10^Digits.
var codeSpace = big.NewInt(1_000_000)

// New draws a code uniformly from codeSpace: rand.Int rejects draws above
// the largest multiple of it, so no code is likelier than another (a
// plain modulo would favour the low ones).
func New(r io.Reader) (string, error) {
	n, err := rand.Int(r, codeSpace)
	if err != nil {
		return "", fmt.Errorf("otpcode: draw a code: %w", err)
	}
	return fmt.Sprintf("%0*d", Digits, n.Int64()), nil
}

// Hash is code's HMAC-SHA256 under key, bound to the login and the factor;
// domain names the method and the format ("gatehouse emailcode v1"), so
// that one method's hash is worth nothing to another. Each part is
// length-prefixed, so no two tuples hash alike.
func Hash(key []byte, domain, requestID, factorID, code string) []byte {
	mac := hmac.New(sha256.New, key)
	for _, part := range []string{domain, requestID, factorID, code} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		mac.Write(n[:])
		mac.Write([]byte(part))
	}
	return mac.Sum(nil)
}

// maxTyped bounds what Parse reads: a code with some spaces, not a paste
// of a whole message.
const maxTyped = 64

// Parse turns a code as typed into its digits: white space anywhere (a
// pasted "123 456\n") is dropped; anything else that is not an ASCII digit
// (full-width digits, NUL, invalid UTF-8), or another count of digits, is
// malformed.
func Parse(typed string) (string, bool) {
	if len(typed) > maxTyped {
		return "", false
	}
	code := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, typed)
	if len(code) != Digits {
		return "", false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// stateVersion is the format of State; a state of another version reads
// as none, so a code sent by another build is sent again.
const stateVersion = 1

// State is a method's per-login state (authflow.Turn.State), as JSON:
//
//	{"v":1,"factor":"<factor id>","hash":"<base64 HMAC-SHA256>",
//	 "sent_at":"<RFC 3339>","expires_at":"<RFC 3339>","misses":2,"burnt":true}
//
// The code itself is never in it: only its Hash, bound to the login's
// request id and the factor id, so that a state copied into another login
// or onto another factor matches nothing.
type State struct {
	V         int       `json:"v"`
	Factor    string    `json:"factor"`
	Hash      []byte    `json:"hash"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Misses    int       `json:"misses,omitempty"`
	Burnt     bool      `json:"burnt,omitempty"`
}

// NewState is the state of a code just sent to factorID at now, living ttl.
func NewState(factorID string, hash []byte, now time.Time, ttl time.Duration) State {
	return State{V: stateVersion, Factor: factorID, Hash: hash, SentAt: now, ExpiresAt: now.Add(ttl)}
}

// LogValue leaves the hash out: under an empty key, whoever has it and the
// request id finds the code in at most 10^6 tries.
func (s State) LogValue() slog.Value {
	return slog.GroupValue(slog.String("factor_id", s.Factor), slog.Time("sent_at", s.SentAt),
		slog.Int("misses", s.Misses), slog.Bool("burnt", s.Burnt))
}

// Read reads b; ok is false for no state, or one this version cannot use
// (treated alike: no code was sent).
func Read(b []byte) (s State, ok bool) {
	if len(b) == 0 {
		return State{}, false
	}
	if err := json.Unmarshal(b, &s); err != nil || s.V != stateVersion || s.Factor == "" || len(s.Hash) != sha256.Size {
		return State{}, false
	}
	return s, true
}

// Encode writes s as the method's state.
func (s State) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("otpcode: write state: %w", err)
	}
	return b, nil
}

// Expires is when the code dies: its stored end, and never later than
// MaxTTL after it was sent, whatever TTL was configured then.
func (s State) Expires() time.Time {
	if limit := s.SentAt.Add(MaxTTL); limit.Before(s.ExpiresAt) {
		return limit
	}
	return s.ExpiresAt
}

// Status is what a page showing s at now says about its code.
func (s State) Status(now time.Time) Verdict {
	switch {
	case s.Burnt:
		return Burnt
	case !now.Before(s.Expires()):
		return Expired
	}
	return Live
}

// UsedSince: f proved a login after s's code was sent, so the code is
// spent (its state was replayed) or void (another login of the user's went
// through on this factor meanwhile). Storage keeps microseconds.
func (s State) UsedSince(f storage.Factor) bool {
	return !f.LastUsedAt.IsZero() && !f.LastUsedAt.Before(s.SentAt.Truncate(time.Microsecond))
}

// Verdict is the outcome of a check, or the status of a code.
type Verdict int

const (
	// Live: the code may be typed (Status); Check: it was right.
	Live Verdict = iota
	// Malformed: not a code at all; it costs no miss.
	Malformed
	// NoCode: no code was sent in this login (or by another build).
	NoCode
	// UnknownFactor: the code went to a factor that no longer counts.
	UnknownFactor
	// Expired: the code's life is over.
	Expired
	// Burnt: MaxMisses wrong codes were typed.
	Burnt
	// Used: the factor proved a login after the code was sent.
	Used
	// Wrong: another code; the miss is counted (and may burn the code:
	// the new state's Burnt).
	Wrong
)

// Code is one method's codes: its Key, hash domain and wording.
type Code struct {
	Key    []byte
	Domain string
	Words  Words
}

// Hash is code's hash for login requestID and factorID under c's key.
func (c Code) Hash(requestID, factorID, code string) []byte {
	return Hash(c.Key, c.Domain, requestID, factorID, code)
}

// Check matches typed against the code that login requestID was sent (in
// state), for one of factors, at now. It returns the factor on Live; on
// Wrong, the new state (the miss counted, the code burnt at MaxMisses),
// and s says which.
func (c Code) Check(requestID string, state []byte, factors []storage.Factor, typed string, now time.Time) (f storage.Factor, v Verdict, s State) {
	code, ok := Parse(typed)
	if !ok {
		return storage.Factor{}, Malformed, State{}
	}
	st, ok := Read(state)
	if !ok {
		return storage.Factor{}, NoCode, State{}
	}
	f, ok = Find(factors, st.Factor)
	switch {
	case !ok:
		return storage.Factor{}, UnknownFactor, st
	case st.Status(now) != Live:
		return storage.Factor{}, st.Status(now), st
	case st.UsedSince(f):
		return storage.Factor{}, Used, st
	}
	if hmac.Equal(c.Hash(requestID, f.ID, code), st.Hash) {
		return f, Live, st
	}
	st.Misses++
	st.Burnt = st.Misses >= MaxMisses
	return storage.Factor{}, Wrong, st
}

// Find is the factor of factors with id.
func Find(factors []storage.Factor, id string) (storage.Factor, bool) {
	for _, f := range factors {
		if f.ID == id {
			return f, true
		}
	}
	return storage.Factor{}, false
}

// Latest is the factor used most recently, else the first; factors must
// not be empty.
func Latest(factors []storage.Factor) storage.Factor {
	best := factors[0]
	for _, f := range factors[1:] {
		if f.LastUsedAt.After(best.LastUsedAt) {
			best = f
		}
	}
	return best
}
