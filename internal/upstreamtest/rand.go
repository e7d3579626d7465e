package upstreamtest

import (
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"sync"
)

func randomWord() string { return rand.Text()[:10] }

var quietOnce sync.Once

// quiet silences the process's default slog logger, which zitadel's OP and
// its example server log every route and request to, unless
// GATEHOUSE_TEST_LOG asks for logs. Gatehouse itself never logs there: it
// is given its own logger.
func quiet() {
	quietOnce.Do(func() {
		if os.Getenv("GATEHOUSE_TEST_LOG") == "" {
			slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
		}
	})
}
