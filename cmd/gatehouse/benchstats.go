package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// benchRecorder collects the outcome of each operation of a bench run; it
// is safe for concurrent use.
type benchRecorder struct {
	mu     sync.Mutex
	ok     []time.Duration
	errors map[string]int
}

// record adds one operation: its latency when kind is "", otherwise a
// failure of that kind ("token: status 401", "login form: no form").
func (r *benchRecorder) record(d time.Duration, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == "" {
		r.ok = append(r.ok, d)
		return
	}
	if r.errors == nil {
		r.errors = map[string]int{}
	}
	r.errors[kind]++
}

// benchSummary is what a run measured.
type benchSummary struct {
	OK       int
	Failed   int
	Errors   map[string]int
	Elapsed  time.Duration
	PerSec   float64 // successful operations per second of wall clock
	P50, P99 time.Duration
	Max      time.Duration
}

func (r *benchRecorder) summary(elapsed time.Duration) benchSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := benchSummary{OK: len(r.ok), Errors: maps.Clone(r.errors), Elapsed: elapsed}
	for _, n := range r.errors {
		s.Failed += n
	}
	if elapsed > 0 {
		s.PerSec = float64(s.OK) / elapsed.Seconds()
	}
	sorted := slices.Clone(r.ok)
	slices.Sort(sorted)
	s.P50, s.P99 = percentile(sorted, 50), percentile(sorted, 99)
	if len(sorted) > 0 {
		s.Max = sorted[len(sorted)-1]
	}
	return s
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of sorted: the
// smallest value that at least p% of the values do not exceed. Zero for no
// values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// print writes the summary; unit names one operation ("flows", "tokens").
func (s benchSummary) print(w io.Writer, unit string) {
	fmt.Fprintf(w, "  %-10s %d ok, %d failed in %s\n", unit, s.OK, s.Failed, s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-10s %.1f\n", unit+"/s", s.PerSec)
	if s.OK > 0 {
		fmt.Fprintf(w, "  %-10s p50 %s  p99 %s  max %s\n", "latency", ms(s.P50), ms(s.P99), ms(s.Max))
	}
	if s.Failed == 0 {
		fmt.Fprintf(w, "  %-10s none\n", "errors")
		return
	}
	kinds := slices.Collect(maps.Keys(s.Errors))
	sort.Slice(kinds, func(i, j int) bool {
		if s.Errors[kinds[i]] != s.Errors[kinds[j]] {
			return s.Errors[kinds[i]] > s.Errors[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	fmt.Fprintf(w, "  %-10s\n", "errors")
	for _, k := range kinds {
		fmt.Fprintf(w, "    %6d  %s\n", s.Errors[k], k)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
