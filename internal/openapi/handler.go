package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
)

// Media types of the OpenAPI documents.
const (
	v2Protobuf           = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	v2ProtobufDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// Handler serves /openapi/v2, /openapi/v3 and /openapi/v3/{group version}.
// Documents are built on first use, since they are only needed by
// kubectl's explain, validation and apply, and cost a few megabytes.
type Handler struct {
	Catalog *catalog.Catalog
	// Version is the API version reported in info.version.
	Version string
	// Aggregated returns the OpenAPI v3 documents of other servers'
	// versions by path ("apis/<group>/<version>"), and a generation that
	// changes with them; nil serves none. The index lists them beside the
	// catalog's own, which win on a clash.
	Aggregated func() (uint64, map[string][]byte)

	v3Once sync.Once
	v3Err  error
	v3     map[string][]byte // "api/v1" or "apis/{group}/{version}"
	hash   map[string]string
	idx    []byte
	index  map[string]any

	aggMu sync.Mutex
	agg   atomic.Pointer[aggregatedV3]

	v2Once sync.Once
	v2Err  error
	v2     []byte
	v2pb   []byte
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func (h *Handler) info() map[string]any {
	return map[string]any{"title": "Kubernetes", "version": h.Version}
}

// buildV3 renders one document per group version and the index.
func (h *Handler) buildV3() {
	h.v3 = map[string][]byte{}
	h.hash = map[string]string{}
	index := map[string]any{}
	for _, gv := range h.Catalog.GroupVersions() {
		d := newDocument(false)
		for _, res := range h.Catalog.Resources() {
			if res.GroupVersion == gv {
				d.addResource(res)
			}
		}
		doc := map[string]any{
			"openapi":    "3.0.0",
			"info":       h.info(),
			"paths":      d.paths,
			"components": map[string]any{"schemas": d.gen.defs},
		}
		data, err := json.Marshal(doc)
		if err != nil {
			h.v3Err = err
			return
		}
		p := gvPath(gv)
		h.v3[p] = data
		h.hash[p] = fmt.Sprintf("%X", sha512.Sum512(data))
		index[p] = map[string]any{"serverRelativeURL": "/openapi/v3/" + p + "?hash=" + h.hash[p]}
	}
	h.index = index
	h.idx, h.v3Err = json.Marshal(map[string]any{"paths": index})
	releaseMemory()
}

// buildV2 renders the single Swagger 2.0 document, as JSON and protobuf.
func (h *Handler) buildV2() {
	d := newDocument(true)
	for _, res := range h.Catalog.Resources() {
		d.addResource(res)
	}
	v2 := map[string]any{"swagger": "2.0", "info": h.info(), "paths": d.paths, "definitions": d.gen.defs}
	if h.v2, h.v2Err = json.Marshal(v2); h.v2Err != nil {
		return
	}
	parsed, err := openapiv2.ParseDocument(h.v2)
	if err != nil {
		h.v2Err = fmt.Errorf("openapi v2: %w", err)
		return
	}
	h.v2pb, h.v2Err = proto.Marshal(parsed)
	releaseMemory()
}

// releaseMemory hands the megabytes of intermediate maps a build leaves
// behind back to the operating system at once, rather than when the
// runtime's scavenger gets to them: an idle server should stay small.
func releaseMemory() { debug.FreeOSMemory() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/openapi/v2" {
		h.v2Once.Do(h.buildV2)
		if h.v2Err != nil {
			http.Error(w, "the OpenAPI document could not be built", http.StatusInternalServerError)
			return
		}
		h.serveV2(w, r)
		return
	}
	h.v3Once.Do(h.buildV3)
	if h.v3Err != nil {
		http.Error(w, "the OpenAPI document could not be built", http.StatusInternalServerError)
		return
	}
	agg := h.aggregated()
	switch {
	case path == "/openapi/v3":
		idx := h.idx
		if agg != nil {
			idx = agg.idx
		}
		serveDoc(w, r, idx, fmt.Sprintf("%X", sha512.Sum512(idx)), false)
	case strings.HasPrefix(path, "/openapi/v3/"):
		p := strings.TrimPrefix(path, "/openapi/v3/")
		data, ok := h.v3[p]
		hash := h.hash[p]
		if !ok && agg != nil {
			data, ok = agg.docs[p]
			hash = agg.hash[p]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		if q := r.URL.Query().Get("hash"); q != "" && q != hash {
			// The content changed since the client's index: send it to the current one.
			w.Header().Set("Location", "/openapi/v3/"+p+"?hash="+hash)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		if !acceptsJSON(r) {
			http.Error(w, "only application/json is served", http.StatusNotAcceptable)
			return
		}
		serveDoc(w, r, data, hash, r.URL.Query().Get("hash") != "")
	default:
		http.NotFound(w, r)
	}
}

// aggregatedV3 is the index with other servers' documents in it, for one
// generation of them.
type aggregatedV3 struct {
	generation uint64
	docs       map[string][]byte
	hash       map[string]string
	idx        []byte
}

// aggregated returns the documents of other servers in force, hashing
// them and building the index when their generation has changed; nil
// when there are none.
func (h *Handler) aggregated() *aggregatedV3 {
	if h.Aggregated == nil {
		return nil
	}
	gen, _ := h.Aggregated()
	if cur := h.agg.Load(); cur != nil && cur.generation == gen {
		return cur
	}
	h.aggMu.Lock()
	defer h.aggMu.Unlock()
	gen, docs := h.Aggregated()
	if cur := h.agg.Load(); cur != nil && cur.generation == gen {
		return cur
	}
	next := &aggregatedV3{generation: gen, docs: map[string][]byte{}, hash: map[string]string{}}
	index := maps.Clone(h.index)
	for p, data := range docs {
		if _, local := h.v3[p]; local {
			continue
		}
		next.docs[p] = data
		next.hash[p] = fmt.Sprintf("%X", sha512.Sum512(data))
		index[p] = map[string]any{"serverRelativeURL": "/openapi/v3/" + p + "?hash=" + next.hash[p]}
	}
	idx, err := json.Marshal(map[string]any{"paths": index})
	if err != nil {
		return h.agg.Load()
	}
	next.idx = idx
	h.agg.Store(next)
	return next
}

func (h *Handler) serveV2(w http.ResponseWriter, r *http.Request) {
	etag := fmt.Sprintf("%X", sha512.Sum512(h.v2))
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		// The deprecated protobuf name contains '@', which is not a valid
		// media type token, so compare the raw text.
		mt, _, _ := strings.Cut(part, ";")
		switch strings.TrimSpace(mt) {
		case v2Protobuf, v2ProtobufDeprecated:
			w.Header().Set("Content-Type", v2Protobuf)
			serveBytes(w, r, h.v2pb, etag+"-pb", false)
			return
		case "application/json", "*/*", "":
			serveDoc(w, r, h.v2, etag, false)
			return
		}
	}
	serveDoc(w, r, h.v2, etag, false)
}

func acceptsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if mt == "application/json" || mt == "*/*" || mt == "application/*" {
			return true
		}
	}
	return false
}

func serveDoc(w http.ResponseWriter, r *http.Request, data []byte, etag string, immutable bool) {
	w.Header().Set("Content-Type", "application/json")
	serveBytes(w, r, data, etag, immutable)
}

// serveBytes answers with data, honouring If-None-Match. Documents whose URL
// carries their content hash may be cached for good.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, etag string, immutable bool) {
	quoted := `"` + etag + `"`
	w.Header().Set("ETag", quoted)
	w.Header().Set("Vary", "Accept")
	if immutable {
		w.Header().Set("Cache-Control", "public, immutable")
	}
	if r.Header.Get("If-None-Match") == quoted {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(data)
}
