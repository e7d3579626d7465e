package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// asset is one static file, hashed once at start-up.
type asset struct {
	body        []byte
	hash        string // first 16 hex digits of SHA-256
	contentType string
}

// contentTypes is fixed rather than read from the system's MIME tables,
// which differ between hosts.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".js":  "text/javascript; charset=utf-8",
}

func loadAssets(fsys fs.FS) (map[string]asset, error) {
	entries, err := fs.ReadDir(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("ui: static files: %w", err)
	}
	assets := make(map[string]asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(fsys, "static/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("ui: static/%s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(e.Name())]
		if !ok {
			return nil, fmt.Errorf("ui: static/%s: unknown file type", e.Name())
		}
		assets[e.Name()] = asset{body: body, hash: hex.EncodeToString(sum[:8]), contentType: ct}
	}
	return assets, nil
}

// assetURL is the versioned URL of a static file: the content hash in the
// query makes it safe to cache forever.
// AssetURL is the URL of static/name with its content hash, for pages
// rendered elsewhere (the admin console) that use the same files.
func (r *Renderer) AssetURL(name string) string { return r.assetURL(name) }

func (r *Renderer) assetURL(name string) string {
	return r.prefix + name + "?v=" + r.assets[name].hash
}

// StaticHandler serves the static files under Options.StaticPrefix
// (mount it at "GET /static/"). A request carrying the current content
// hash (?v=, as the pages link it) is cacheable for a year; any other gets
// "no-cache" and revalidates with the ETag.
func (r *Renderer) StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(req.URL.Path, r.prefix)
		a, found := r.assets[name]
		if !ok || !found {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", `"`+a.hash+`"`)
		if req.URL.Query().Get("v") == a.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, req, name, time.Time{}, bytes.NewReader(a.body))
	})
}
