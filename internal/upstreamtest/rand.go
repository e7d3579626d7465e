package upstreamtest

import "crypto/rand"

func randomWord() string { return rand.Text()[:10] }
