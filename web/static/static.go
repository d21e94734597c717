// Package static holds the portal's embedded assets (CSS, the vendored htmx
// and a few lines of its own script) and serves them under content-hashed
// URLs, so they can be cached forever and still change on every release.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

// Prefix is the URL path under which assets are served.
const Prefix = "/static/"

type asset struct {
	body        []byte
	gz          []byte
	contentType string
	etag        string
}

// Assets maps logical names ("app.css") to hashed URLs and serves them.
type Assets struct {
	byName map[string]string // logical name -> hashed file name
	byHash map[string]*asset // hashed file name -> asset
}

// Load reads every embedded file, hashes it and gzips it once, at start-up.
func Load() (*Assets, error) {
	a := &Assets{byName: map[string]string{}, byHash: map[string]*asset{}}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, fmt.Errorf("static: %w", err)
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + h + ext
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.byName[e.Name()] = hashed
		a.byHash[hashed] = &asset{body: body, gz: buf.Bytes(), contentType: ct, etag: `"` + h + `"`}
	}
	return a, nil
}

// Path returns the hashed URL of a logical asset name. An unknown name
// returns a path that answers 404, so a typo shows up in tests rather than
// as a panic.
func (a *Assets) Path(name string) string {
	if h, ok := a.byName[name]; ok {
		return Prefix + h
	}
	return Prefix + "missing/" + name
}

// ServeHTTP serves one hashed asset with immutable caching, gzip when the
// client accepts it, and nothing else: unknown names answer 404.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := a.byHash[strings.TrimPrefix(r.URL.Path, Prefix)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
