package console

import (
	"fmt"

	"github.com/gatehouse-idp/gatehouse/idp/admin"
)

// chart is a bar chart of sign-ins and failures, drawn as inline SVG by
// the template from these numbers: no script, no image request.
type chart struct {
	Bars          []bar
	Width, Height int
	Max           int
	OK, Failed    int
	// Summary says what the chart shows, for screen readers.
	Summary string
}

type bar struct {
	X, W         int
	OKY, OKH     int
	FailY, FailH int
	Label, Title string
	ShowLabel    bool
	OK, Failed   int
}

const (
	chartHeight = 120
	barWidth    = 12
	barGap      = 4
)

// newChart scales buckets to the chart's height, sign-ins stacked on
// failures.
func newChart(buckets []admin.SignIns, layout string) chart {
	c := chart{Height: chartHeight, Width: len(buckets) * (barWidth + barGap)}
	for _, b := range buckets {
		c.Max = max(c.Max, b.OK+b.Failed)
		c.OK += b.OK
		c.Failed += b.Failed
	}
	scale := 1
	if c.Max > 0 {
		scale = c.Max
	}
	for i, b := range buckets {
		failH := b.Failed * chartHeight / scale
		okH := b.OK * chartHeight / scale
		label := b.At.UTC().Format(layout)
		c.Bars = append(c.Bars, bar{
			X: i * (barWidth + barGap), W: barWidth,
			FailY: chartHeight - failH, FailH: failH,
			OKY: chartHeight - failH - okH, OKH: okH,
			Title: fmt.Sprintf("%s: %d sign-ins, %d failed", label, b.OK, b.Failed),
		})
	}
	c.Summary = fmt.Sprintf("%d sign-ins and %d failed attempts; the busiest period had %d.", c.OK, c.Failed, c.Max)
	return c
}
