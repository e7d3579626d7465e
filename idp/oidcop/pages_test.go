package oidcop

import (
	"io"
	"log/slog"

	"github.com/gatehouse-idp/gatehouse/ui"
)

// testPages are the real pages, for tests of the provider alone: the
// error page and the auto-post page need no session or CSRF.
func testPages() *ui.Handlers {
	r, err := ui.New(ui.Options{})
	if err != nil {
		panic(err)
	}
	return &ui.Handlers{Render: r, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}
