package openapi

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"

	"github.com/sekisho/sekisho/internal/catalog"
)

func get(t *testing.T, h *Handler, path, accept string) (int, []byte, string) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes(), w.Header().Get("Content-Type")
}

// TestV3DocumentsServeKubectl checks the facts kubectl relies on: the index
// lists every group version; each PATCH operation names its kind and lists
// fieldValidation inline; each kind's schema carries its GVK; descriptions
// and merge strategies are present.
func TestV3DocumentsServeKubectl(t *testing.T) {
	h := &Handler{Catalog: catalog.Builtin(), Version: "v1.32.0"}
	code, body, _ := get(t, h, "/openapi/v3", "")
	var index struct {
		Paths map[string]struct{ ServerRelativeURL string }
	}
	if err := json.Unmarshal(body, &index); err != nil || code != 200 {
		t.Fatalf("index: %d %v", code, err)
	}
	for _, p := range []string{"api/v1", "apis/rbac.authorization.k8s.io/v1", "apis/certificates.k8s.io/v1", "apis/coordination.k8s.io/v1", "apis/networking.k8s.io/v1"} {
		if !strings.HasPrefix(index.Paths[p].ServerRelativeURL, "/openapi/v3/"+p+"?hash=") {
			t.Errorf("index entry %s: %+v", p, index.Paths[p])
		}
	}
	code, body, _ = get(t, h, index.Paths["api/v1"].ServerRelativeURL, "application/json")
	if code != 200 {
		t.Fatalf("api/v1: %d", code)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct{ Schemas map[string]map[string]any }
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	patches := 0
	for path, item := range doc.Paths {
		raw, ok := item["patch"]
		if !ok {
			continue
		}
		patches++
		var op struct {
			GVK        map[string]string `json:"x-kubernetes-group-version-kind"`
			Parameters []struct{ Name string }
		}
		json.Unmarshal(raw, &op)
		hasFV := false
		for _, p := range op.Parameters {
			hasFV = hasFV || p.Name == "fieldValidation"
		}
		if op.GVK["kind"] == "" || !hasFV {
			t.Errorf("PATCH %s: gvk %v, fieldValidation %v", path, op.GVK, hasFV)
		}
	}
	if patches < 11 {
		t.Errorf("only %d PATCH operations in api/v1", patches)
	}
	secret := doc.Components.Schemas["io.k8s.api.core.v1.Secret"]
	gvk, _ := json.Marshal(secret["x-kubernetes-group-version-kind"])
	if string(gvk) != `[{"group":"","kind":"Secret","version":"v1"}]` {
		t.Errorf("Secret GVK: %s", gvk)
	}
	props := secret["properties"].(map[string]any)
	data := props["data"].(map[string]any)
	if !strings.Contains(data["description"].(string), "base64") || data["type"] != "object" {
		t.Errorf("Secret.data: %v", data)
	}
	containers := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]["properties"].(map[string]any)["containers"].(map[string]any)
	if containers["x-kubernetes-patch-merge-key"] != "name" || containers["x-kubernetes-patch-strategy"] != "merge" {
		t.Errorf("PodSpec.containers merge strategy: %v", containers)
	}
	if _, ok := doc.Components.Schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]; !ok {
		t.Error("ObjectMeta schema missing")
	}
	// A stale hash redirects to the current document.
	if code, _, _ := get(t, h, "/openapi/v3/api/v1?hash=STALE", ""); code != 301 {
		t.Errorf("stale hash: %d", code)
	}
}

func TestV2Protobuf(t *testing.T) {
	h := &Handler{Catalog: catalog.Builtin(), Version: "v1.32.0"}
	code, body, ct := get(t, h, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	if code != 200 || !strings.Contains(ct, "protobuf") {
		t.Fatalf("v2 protobuf: %d %s", code, ct)
	}
	var doc openapiv2.Document
	if err := proto.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range doc.GetDefinitions().GetAdditionalProperties() {
		if d.Name == "io.k8s.api.core.v1.ConfigMap" {
			found = true
		}
	}
	if !found || doc.Swagger != "2.0" {
		t.Error("v2 document lacks ConfigMap")
	}
}

// TestV3IndexListsAggregatedDocuments checks other servers' documents:
// listed in the index with their hash, served, replaced when their
// generation changes, and never in place of the catalog's own.
func TestV3IndexListsAggregatedDocuments(t *testing.T) {
	gen, docs := uint64(1), map[string][]byte{
		"apis/widgets.example.com/v1": []byte(`{"openapi":"3.0.0","info":{"title":"widgets"}}`),
		"api/v1":                      []byte(`{"openapi":"3.0.0","info":{"title":"impostor"}}`),
	}
	h := &Handler{Catalog: catalog.Builtin(), Version: "v1.37.2", Aggregated: func() (uint64, map[string][]byte) { return gen, docs }}
	index := func() map[string]string {
		_, body, _ := get(t, h, "/openapi/v3", "")
		var idx struct {
			Paths map[string]struct{ ServerRelativeURL string }
		}
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for p, v := range idx.Paths {
			out[p] = v.ServerRelativeURL
		}
		return out
	}
	url := index()["apis/widgets.example.com/v1"]
	if !strings.HasPrefix(url, "/openapi/v3/apis/widgets.example.com/v1?hash=") {
		t.Fatalf("index entry of the aggregated version: %q", url)
	}
	if code, body, _ := get(t, h, url, "application/json"); code != 200 || !strings.Contains(string(body), "widgets") {
		t.Errorf("aggregated document: %d %s", code, body)
	}
	if _, body, _ := get(t, h, "/openapi/v3/api/v1", "application/json"); strings.Contains(string(body), "impostor") {
		t.Error("another server's document replaced the catalog's api/v1")
	}
	gen, docs = 2, map[string][]byte{"apis/widgets.example.com/v1": []byte(`{"openapi":"3.0.0","info":{"title":"widgets v2"}}`)}
	if next := index()["apis/widgets.example.com/v1"]; next == url || next == "" {
		t.Errorf("the index did not follow a changed document: %q then %q", url, next)
	}
	if code, _, _ := get(t, h, url, "application/json"); code != 301 {
		t.Errorf("the old hash: %d, want 301 to the current one", code)
	}
	gen, docs = 3, nil
	if _, ok := index()["apis/widgets.example.com/v1"]; ok {
		t.Error("a removed document stays in the index")
	}
}
