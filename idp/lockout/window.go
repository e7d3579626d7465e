package lockout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Window limits events under a key to about Limit per sliding Window: a
// send cap per address, failures per network.
//
// It is the two-bucket approximation of a sliding window: time is cut
// into fixed buckets of length Window, and an event at fraction f into
// the current bucket is allowed while
//
//	previous × (1 − f) + current < Limit
//
// which assumes the previous bucket's events were spread evenly. The
// check and the count are one atomic storage.ReserveAttempt on the current
// bucket, with the limit lowered by the previous bucket's weighted count.
// The previous bucket is closed (nothing adds to it any more, only
// releases take from it), so reading it outside that step cannot let a
// concurrent caller through: at most Limit events are counted in any one
// bucket, whatever the concurrency and however many instances share the
// database. (Instances whose clocks disagree about which bucket is
// current may each admit a little at the boundary.)
type Window struct {
	Store  storage.Attempts
	Limit  int
	Window time.Duration
	Now    func() time.Time
}

// Allow counts one event under key and reports whether it was within the
// limit; an event over the limit is not counted. An error is an outage:
// the caller decides whether to fail open or closed.
func (w *Window) Allow(ctx context.Context, key string) (bool, error) {
	_, ok, err := w.reserve(ctx, key)
	return ok, err
}

// reserve is Allow that also returns the bucket counted, for a caller
// that may take the event back (storage.ReleaseAttempt).
func (w *Window) reserve(ctx context.Context, key string) (bucket string, ok bool, err error) {
	if w.Window <= 0 {
		return "", false, errors.New("lockout: window: Window must be positive")
	}
	now := w.Now()
	size := w.Window.Microseconds()
	i := now.UnixMicro() / size
	start := time.UnixMicro(i * size)
	cur, prev := bucketKey(key, i, w.Window), bucketKey(key, i-1, w.Window)

	p, err := w.Store.GetAttempts(ctx, prev, now)
	if err != nil {
		return "", false, fmt.Errorf("lockout: window: %w", err)
	}
	elapsed := float64(now.Sub(start)) / float64(w.Window)
	limit := w.Limit - int(math.Floor(float64(p.Count)*(1-elapsed)))
	// The bucket must be readable as "previous" until the next one ends.
	ttl := start.Add(2 * w.Window).Sub(now)
	_, err = w.Store.ReserveAttempt(ctx, cur, limit, ttl, now)
	switch {
	case errors.Is(err, storage.ErrLimited):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("lockout: window: %w", err)
	}
	return cur, true, nil
}

// bucketKey names bucket i of key's window. The window's length is part
// of it, so a changed configuration starts new buckets instead of reading
// old ones with another meaning.
func bucketKey(key string, i int64, window time.Duration) string {
	return fmt.Sprintf("%s@%d/%s", key, i, window)
}
