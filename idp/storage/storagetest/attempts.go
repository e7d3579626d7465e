package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// Attempt counters (storage.Attempts): the shared, atomic counting behind
// lockout and rate limits.
var attemptTests = []testCase{
	{"CountsUpAndMovesExpiry", testAttemptsCount},
	{"LimitRefusesWithoutExtending", testAttemptsLimit},
	{"ExpiredStartsFresh", testAttemptsExpired},
	{"Release", testAttemptsRelease},
	{"Reset", testAttemptsReset},
	{"GetWithoutCounter", testAttemptsGetNone},
	{"KeysAreIndependent", testAttemptsKeys},
	{"LimitZeroRefuses", testAttemptsLimitZero},
	{"ConcurrentReservationsStopAtLimit", testAttemptsConcurrent},
	{"ConcurrentReleasesNeverGoNegative", testAttemptsConcurrentRelease},
	{"DeleteExpiredPurges", testAttemptsDeleteExpired},
	{"BadTextKeys", testAttemptsBadText},
	{"Unavailable", testAttemptsUnavailable},
}

// reserve reserves under key with limit 5 and a ten-minute ttl at now.
func (f *fixture) reserve(key string, now time.Time) (storage.AttemptCounter, error) {
	return f.s.ReserveAttempt(f.ctx, key, 5, 10*time.Minute, now)
}

func checkCounter(t *testing.T, what string, got storage.AttemptCounter, key string, count int, expires time.Time) {
	t.Helper()
	if got.Key != key || got.Count != count || !got.ExpiresAt.Equal(expires) {
		t.Errorf("%s = {%q %d %s}, want {%q %d %s}", what, got.Key, got.Count, fmtTime(got.ExpiresAt), key, count, fmtTime(expires))
	}
}

func testAttemptsCount(t *testing.T, f *fixture) {
	for i := 1; i <= 3; i++ {
		now := at(time.Duration(i) * time.Minute)
		c, err := f.reserve("user:a", now)
		if checkOK(t, err, "ReserveAttempt") {
			checkCounter(t, "ReserveAttempt", c, "user:a", i, now.Add(10*time.Minute))
		}
	}
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(4*time.Minute))
	if checkOK(t, err, "GetAttempts") {
		checkCounter(t, "GetAttempts", c, "user:a", 3, at(13*time.Minute))
	}
}

// testAttemptsLimit: at the limit nothing is stored, so a refused attempt
// neither counts nor extends the counter's life (a lock cannot be made
// permanent by hammering it).
func testAttemptsLimit(t *testing.T, f *fixture) {
	for i := range 5 {
		_, err := f.reserve("user:a", at(time.Duration(i)*time.Second))
		mustOK(t, err, "ReserveAttempt below the limit")
	}
	want := at(4*time.Second + 10*time.Minute)
	for _, d := range []time.Duration{5 * time.Second, 9 * time.Minute} {
		c, err := f.reserve("user:a", at(d))
		if checkErr(t, err, storage.ErrLimited, "ReserveAttempt at the limit") {
			checkCounter(t, "counter returned with ErrLimited", c, "user:a", 5, want)
		}
	}
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(9*time.Minute))
	if checkOK(t, err, "GetAttempts") {
		checkCounter(t, "GetAttempts after refusals", c, "user:a", 5, want)
	}
	// A higher limit lets more through: the limit is the caller's, not
	// stored.
	c, err = f.s.ReserveAttempt(f.ctx, "user:a", 6, time.Minute, at(9*time.Minute))
	if checkOK(t, err, "ReserveAttempt with a higher limit") {
		checkCounter(t, "ReserveAttempt with a higher limit", c, "user:a", 6, at(10*time.Minute))
	}
}

// testAttemptsExpired: a counter is dead from its ExpiresAt on.
func testAttemptsExpired(t *testing.T, f *fixture) {
	for range 5 {
		_, err := f.reserve("user:a", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	end := at(10 * time.Minute)
	_, err := f.reserve("user:a", end.Add(-time.Microsecond))
	checkErr(t, err, storage.ErrLimited, "ReserveAttempt one microsecond before expiry")
	c, err := f.s.GetAttempts(f.ctx, "user:a", end)
	if checkOK(t, err, "GetAttempts at expiry") {
		checkCounter(t, "GetAttempts at expiry", c, "user:a", 0, time.Time{})
	}
	c, err = f.reserve("user:a", end)
	if checkOK(t, err, "ReserveAttempt at expiry") {
		checkCounter(t, "ReserveAttempt at expiry", c, "user:a", 1, end.Add(10*time.Minute))
	}
}

func testAttemptsRelease(t *testing.T, f *fixture) {
	mustOK(t, f.s.ReleaseAttempt(f.ctx, "user:none", at(0)), "ReleaseAttempt without a counter")
	for range 2 {
		_, err := f.reserve("user:a", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	for range 3 { // one more than there is: it stops at zero
		mustOK(t, f.s.ReleaseAttempt(f.ctx, "user:a", at(time.Second)), "ReleaseAttempt")
	}
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(time.Second))
	if checkOK(t, err, "GetAttempts after releases") {
		checkCounter(t, "GetAttempts after releases", c, "user:a", 0, at(10*time.Minute))
	}
	// A release frees a place under the limit.
	for range 5 {
		_, err := f.reserve("user:b", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	mustOK(t, f.s.ReleaseAttempt(f.ctx, "user:b", at(time.Second)), "ReleaseAttempt at the limit")
	_, err = f.reserve("user:b", at(2*time.Second))
	checkOK(t, err, "ReserveAttempt after a release")
	// An expired counter is not resurrected by a release.
	mustOK(t, f.s.ReleaseAttempt(f.ctx, "user:b", at(time.Hour)), "ReleaseAttempt of an expired counter")
	c, err = f.reserve("user:b", at(time.Hour))
	if checkOK(t, err, "ReserveAttempt after expiry") {
		checkCounter(t, "ReserveAttempt after expiry", c, "user:b", 1, at(time.Hour+10*time.Minute))
	}
}

func testAttemptsReset(t *testing.T, f *fixture) {
	mustOK(t, f.s.ResetAttempts(f.ctx, "user:none"), "ResetAttempts without a counter")
	for range 5 {
		_, err := f.reserve("user:a", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	mustOK(t, f.s.ResetAttempts(f.ctx, "user:a"), "ResetAttempts")
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(time.Second))
	if checkOK(t, err, "GetAttempts after reset") {
		checkCounter(t, "GetAttempts after reset", c, "user:a", 0, time.Time{})
	}
	c, err = f.reserve("user:a", at(time.Second))
	if checkOK(t, err, "ReserveAttempt after reset") {
		checkCounter(t, "ReserveAttempt after reset", c, "user:a", 1, at(time.Second+10*time.Minute))
	}
}

func testAttemptsGetNone(t *testing.T, f *fixture) {
	c, err := f.s.GetAttempts(f.ctx, "user:none", at(0))
	if checkOK(t, err, "GetAttempts without a counter") {
		checkCounter(t, "GetAttempts without a counter", c, "user:none", 0, time.Time{})
	}
}

func testAttemptsKeys(t *testing.T, f *fixture) {
	for range 5 {
		_, err := f.reserve("user:a", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	for _, key := range []string{"user:b", "user:A", "ip:user:a", "user:a "} {
		c, err := f.reserve(key, at(0))
		if checkOK(t, err, "ReserveAttempt "+key) {
			checkCounter(t, "ReserveAttempt "+key, c, key, 1, at(10*time.Minute))
		}
	}
}

func testAttemptsLimitZero(t *testing.T, f *fixture) {
	for _, limit := range []int{0, -1} {
		c, err := f.s.ReserveAttempt(f.ctx, "user:a", limit, time.Minute, at(0))
		if checkErr(t, err, storage.ErrLimited, "ReserveAttempt with limit <= 0") {
			checkCounter(t, "counter with limit <= 0", c, "user:a", 0, time.Time{})
		}
	}
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(0))
	if checkOK(t, err, "GetAttempts") && c.Count != 0 {
		t.Errorf("limit <= 0 stored a count: %+v", c)
	}
}

// testAttemptsConcurrent: 50 concurrent reservations against limit 5 on
// one key, new and then live: exactly 5 succeed, each with its own count.
func testAttemptsConcurrent(t *testing.T, f *fixture) {
	const n, limit = 50, 5
	for _, key := range []string{"user:new", "user:live"} {
		if key == "user:live" {
			_, err := f.s.ReserveAttempt(f.ctx, key, limit, time.Hour, at(0))
			mustOK(t, err, "first ReserveAttempt")
		}
		counts := make([]int, n)
		errs := make([]error, n)
		race(n, func(i int) {
			c, err := f.s.ReserveAttempt(f.ctx, key, limit, time.Hour, at(time.Second))
			counts[i], errs[i] = c.Count, err
		})
		ok, limited := 0, 0
		seen := map[int]bool{}
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				if seen[counts[i]] {
					t.Errorf("%s: two reservations got count %d", key, counts[i])
				}
				seen[counts[i]] = true
			case errors.Is(err, storage.ErrLimited):
				limited++
			default:
				t.Errorf("%s: concurrent ReserveAttempt: %v", key, err)
			}
		}
		want := limit
		if key == "user:live" {
			want = limit - 1
		}
		if ok != want || limited != n-want {
			t.Errorf("%s: %d concurrent reservations against limit %d: %d ok, %d ErrLimited; want %d and %d", key, n, limit, ok, limited, want, n-want)
		}
		c, err := f.s.GetAttempts(f.ctx, key, at(time.Second))
		if checkOK(t, err, "GetAttempts") && c.Count != limit {
			t.Errorf("%s: count after the race = %d, want %d", key, c.Count, limit)
		}
	}
}

func testAttemptsConcurrentRelease(t *testing.T, f *fixture) {
	for range 3 {
		_, err := f.reserve("user:a", at(0))
		mustOK(t, err, "ReserveAttempt")
	}
	errs := make([]error, concurrency)
	race(concurrency, func(i int) { errs[i] = f.s.ReleaseAttempt(f.ctx, "user:a", at(time.Second)) })
	for _, err := range errs {
		checkOK(t, err, "concurrent ReleaseAttempt")
	}
	c, err := f.s.GetAttempts(f.ctx, "user:a", at(time.Second))
	if checkOK(t, err, "GetAttempts") && c.Count != 0 {
		t.Errorf("count after %d releases of 3 = %d, want 0", concurrency, c.Count)
	}
}

func testAttemptsDeleteExpired(t *testing.T, f *fixture) {
	_, err := f.s.ReserveAttempt(f.ctx, "user:old", 5, time.Minute, at(0))
	mustOK(t, err, "ReserveAttempt")
	_, err = f.s.ReserveAttempt(f.ctx, "user:live", 5, time.Hour, at(0))
	mustOK(t, err, "ReserveAttempt")
	n, err := f.s.DeleteExpired(f.ctx, at(30*time.Minute))
	if checkOK(t, err, "DeleteExpired") && n != 1 {
		t.Errorf("DeleteExpired = %d, want 1 (the expired counter)", n)
	}
	c, err := f.s.GetAttempts(f.ctx, "user:live", at(30*time.Minute))
	if checkOK(t, err, "GetAttempts") {
		checkCounter(t, "live counter after DeleteExpired", c, "user:live", 1, at(time.Hour))
	}
	// The purged row is gone, not just dead: a release at its old time
	// finds nothing to resurrect.
	mustOK(t, f.s.ReleaseAttempt(f.ctx, "user:old", at(0)), "ReleaseAttempt")
	c, err = f.s.GetAttempts(f.ctx, "user:old", at(0))
	if checkOK(t, err, "GetAttempts of a purged counter") && c.Count != 0 {
		t.Errorf("purged counter read back %+v", c)
	}
}

// testAttemptsBadText: a key no backend can store counts nothing, on every
// backend alike: a reservation is ErrInvalid, the rest find no counter.
func testAttemptsBadText(t *testing.T, f *fixture) {
	for label, bad := range badTexts {
		_, err := f.reserve(bad, at(0))
		checkErr(t, err, storage.ErrInvalid, label+": ReserveAttempt")
		checkOK(t, f.s.ReleaseAttempt(f.ctx, bad, at(0)), label+": ReleaseAttempt")
		checkOK(t, f.s.ResetAttempts(f.ctx, bad), label+": ResetAttempts")
		c, err := f.s.GetAttempts(f.ctx, bad, at(0))
		if checkOK(t, err, label+": GetAttempts") && c.Count != 0 {
			t.Errorf("%s: GetAttempts = %+v", label, c)
		}
	}
}

// testAttemptsUnavailable: an unreachable database is ErrUnavailable, never
// ErrLimited (which callers turn into "locked") nor a zero counter.
func testAttemptsUnavailable(t *testing.T, f *fixture) {
	mustOK(t, f.s.Close(), "Close")
	for name, call := range map[string]func() error{
		"ReserveAttempt": func() error { _, err := f.reserve("user:a", at(0)); return err },
		"ReleaseAttempt": func() error { return f.s.ReleaseAttempt(f.ctx, "user:a", at(0)) },
		"ResetAttempts":  func() error { return f.s.ResetAttempts(f.ctx, "user:a") },
		"GetAttempts":    func() error { _, err := f.s.GetAttempts(f.ctx, "user:a", at(0)); return err },
	} {
		err := call()
		if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrLimited) {
			t.Errorf("%s on a closed store: err = %v, want ErrUnavailable (and not ErrLimited)", name, err)
		}
	}
}
