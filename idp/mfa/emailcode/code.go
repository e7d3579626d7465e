package emailcode

import (
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

	"github.com/gatehouse-idp/gatehouse/idp/authflow"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// stateVersion is the format of state; a state of another version reads
// as none, so a code sent by another build is sent again.
const stateVersion = 1

// state is the method's per-login state (Turn.State), as JSON:
//
//	{"v":1,"factor":"<factor id>","hash":"<base64 HMAC-SHA256>",
//	 "sent_at":"<RFC 3339>","expires_at":"<RFC 3339>","misses":2,"burnt":true}
//
// The code itself is never in it: only its hash, bound to the login's
// request id and the factor id, so that a state copied into another login
// or onto another factor matches nothing.
type state struct {
	V         int       `json:"v"`
	Factor    string    `json:"factor"`
	Hash      []byte    `json:"hash"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Misses    int       `json:"misses,omitempty"`
	Burnt     bool      `json:"burnt,omitempty"`
}

// LogValue leaves the hash out: under an empty Key, whoever has it and the
// request id finds the code in at most 10^6 tries.
func (s state) LogValue() slog.Value {
	return slog.GroupValue(slog.String("factor_id", s.Factor), slog.Time("sent_at", s.SentAt),
		slog.Int("misses", s.Misses), slog.Bool("burnt", s.Burnt))
}

// readState reads b; ok is false for no state, or one this version cannot
// use (treated alike: no code was sent).
func readState(b []byte) (s state, ok bool) {
	if len(b) == 0 {
		return state{}, false
	}
	if err := json.Unmarshal(b, &s); err != nil || s.V != stateVersion || s.Factor == "" || len(s.Hash) != sha256.Size {
		return state{}, false
	}
	return s, true
}

func (s state) encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("emailcode: write state: %w", err)
	}
	return b, nil
}

// expires is when the code dies: its stored end, and never later than
// MaxTTL after it was sent, whatever TTL was configured then.
func (s state) expires() time.Time {
	if limit := s.SentAt.Add(MaxTTL); limit.Before(s.ExpiresAt) {
		return limit
	}
	return s.ExpiresAt
}

// notice is what a page showing s at now says about it: nil while its
// code may be typed.
func (s state) notice(now time.Time) error {
	switch {
	case s.Burnt:
		return ErrBurnt
	case !now.Before(s.expires()):
		return ErrExpired
	}
	return nil
}

// usedSince: f proved a login after s's code was sent, so the code is
// spent (its state was replayed) or void (another login of the user's went
// through on this address meanwhile). Storage keeps microseconds.
func (s state) usedSince(f storage.Factor) bool {
	return !f.LastUsedAt.IsZero() && !f.LastUsedAt.Before(s.SentAt.Truncate(time.Microsecond))
}

// codeSpace is the number of codes: 10^Digits.
var codeSpace = big.NewInt(1_000_000)

// newCode draws a code uniformly from codeSpace: rand.Int rejects draws
// above the largest multiple of it, so no code is likelier than another
// (a plain modulo would favour the low ones).
func newCode(r io.Reader) (string, error) {
	n, err := rand.Int(r, codeSpace)
	if err != nil {
		return "", fmt.Errorf("emailcode: draw a code: %w", err)
	}
	return fmt.Sprintf("%0*d", Digits, n.Int64()), nil
}

// hash is the code's HMAC-SHA256 under m.Key, bound to the login and the
// factor. Each part is length-prefixed, so no two tuples hash alike.
func (m *Method) hash(requestID, factorID, code string) []byte {
	mac := hmac.New(sha256.New, m.Key)
	for _, part := range []string{"gatehouse emailcode v1", requestID, factorID, code} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		mac.Write(n[:])
		mac.Write([]byte(part))
	}
	return mac.Sum(nil)
}

// maxTyped bounds what parseCode reads: a code with some spaces, not a
// paste of the whole email.
const maxTyped = 64

// parseCode turns a code as typed into its digits: white space anywhere (a
// pasted "123 456\n") is dropped; anything else that is not an ASCII digit
// (full-width digits, NUL, invalid UTF-8), or another count of digits, is
// malformed.
func parseCode(typed string) (string, bool) {
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

// check matches in[FieldCode] against the code this login was sent (in
// t.State), for one of factors. It returns that factor, or a *Failure
// whose State counts the miss (and, at MaxMisses, burns the code).
func (m *Method) check(t authflow.Turn, factors []storage.Factor, in authflow.Input) (storage.Factor, error) {
	code, ok := parseCode(in[FieldCode])
	if !ok {
		// Not a guess at the code: it costs no miss (the flow still
		// counts it toward the lockout).
		return storage.Factor{}, failure(t, ReasonMalformed, ErrRetype, nil)
	}
	st, ok := readState(t.State)
	if !ok {
		return storage.Factor{}, failure(t, ReasonExpired, ErrExpired, nil)
	}
	f, ok := find(factors, st.Factor)
	switch {
	case !ok:
		return storage.Factor{}, failure(t, ReasonUnknownFactor, ErrExpired, nil)
	case st.notice(m.now()) != nil:
		return storage.Factor{}, failure(t, ReasonExpired, st.notice(m.now()), nil)
	case st.usedSince(f):
		return storage.Factor{}, failure(t, ReasonUsed, ErrExpired, nil)
	}
	if hmac.Equal(m.hash(t.Request.ID, f.ID, code), st.Hash) {
		return f, nil
	}
	st.Misses++
	show := ErrWrongCode
	if st.Misses >= MaxMisses {
		st.Burnt, show = true, ErrBurnt
	}
	b, err := st.encode()
	if err != nil {
		return storage.Factor{}, err
	}
	return storage.Factor{}, failure(t, ReasonWrong, show, b)
}

func find(factors []storage.Factor, id string) (storage.Factor, bool) {
	for _, f := range factors {
		if f.ID == id {
			return f, true
		}
	}
	return storage.Factor{}, false
}
