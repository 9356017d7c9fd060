package apiserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
)

// FuzzRequestInfo feeds request paths to ParseRequestInfo. Nothing panics;
// a namespace is named only when the path names one; and the parsed
// request, written back as a path, parses to the same request.
func FuzzRequestInfo(f *testing.F) {
	for _, p := range []string{
		"/api/v1/namespaces/scope-a/namespaces", "/api/v1/namespaces/a/pods/web/log", "/apis/apps/v1/watch/namespaces/x/deployments",
		"/api/v1/namespaces/a/finalize", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "/api", "/apis/g", "//api//v1//",
		"/api/v1/namespaces/a/pods/x/y/z", "/healthz", "/api/v1/nodes/n1/status",
	} {
		f.Add("GET", p, "watch=1")
	}
	f.Add("DELETE", "/api/v1/namespaces/a/pods", "")
	f.Add("POST", "/api/v1/namespaces/a/namespaces", "")
	f.Fuzz(func(t *testing.T, method, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		r, err := http.NewRequest("GET", "https://x"+u.EscapedPath()+"?"+u.RawQuery, nil)
		if err != nil {
			return
		}
		r.Method = method
		ri := ParseRequestInfo(r)
		if !ri.IsResourceRequest {
			if ri.Namespace != "" || ri.Resource != "" {
				t.Fatalf("%s: a non-resource request names %q/%q", path, ri.Namespace, ri.Resource)
			}
			return
		}
		segments := "/" + strings.Join(splitPath(r.URL.Path), "/") + "/"
		if ri.InNamespace && (ri.Namespace == "" || !strings.Contains(segments, "/namespaces/"+ri.Namespace+"/")) {
			t.Fatalf("%s: in namespace %q, which the path does not name", path, ri.Namespace)
		}
		if ri.Namespace != "" && !ri.InNamespace && (ri.Resource != "namespaces" || ri.Name != ri.Namespace) {
			t.Fatalf("%s: namespace %q outside /namespaces/{ns}/ and not a namespace's own", path, ri.Namespace)
		}
		// Write the request back as a path and parse it again.
		var b strings.Builder
		b.WriteString("/" + ri.APIPrefix)
		if ri.APIGroup != "" {
			b.WriteString("/" + ri.APIGroup)
		}
		b.WriteString("/" + ri.APIVersion)
		if ri.Verb == "watch" {
			b.WriteString("/watch")
		}
		if ri.InNamespace {
			b.WriteString("/namespaces/" + ri.Namespace)
		}
		for _, p := range ri.Parts {
			b.WriteString("/" + p)
		}
		r2 := r.Clone(r.Context())
		r2.URL = &url.URL{Path: b.String(), RawQuery: r.URL.RawQuery}
		again := ParseRequestInfo(r2)
		again.Path, ri.Path = "", ""
		if again.Namespace != ri.Namespace || again.Resource != ri.Resource || again.Name != ri.Name ||
			again.Subresource != ri.Subresource || again.InNamespace != ri.InNamespace || again.Verb != ri.Verb ||
			again.APIGroup != ri.APIGroup || again.APIVersion != ri.APIVersion {
			t.Fatalf("%s → %s:\n%+v\n%+v", path, b.String(), ri, again)
		}
	})
}

// FuzzSelectors feeds label and field selectors to the parsers the server
// uses. Nothing panics; a parsed selector prints to a string that parses
// to the same selector; and a list is narrowed to one name for
// authorization only when the selector requires exactly that name.
func FuzzSelectors(f *testing.F) {
	f.Add("app=web,tier!=db,env in (a,b),!legacy", "metadata.name=x,spec.nodeName=n1")
	f.Add("a", "metadata.name==x")
	f.Add("x notin (a),y", "metadata.name!=x")
	f.Add("", "metadata.name=x,metadata.name=y")
	f.Fuzz(func(t *testing.T, label, field string) {
		if sel, err := labels.Parse(label); err == nil {
			again, err := labels.Parse(sel.String())
			if err != nil || again.String() != sel.String() {
				t.Fatalf("label selector %q → %q → %v %v", label, sel.String(), again, err)
			}
		}
		sel, err := fields.ParseSelector(field)
		if err == nil {
			// Printed and parsed again, the selector has the same
			// requirements (apimachinery does not print requirements on one
			// field in a canonical order, so the strings may differ).
			again, err := fields.ParseSelector(sel.String())
			if err != nil || !slices.Equal(requirements(sel), requirements(again)) {
				t.Fatalf("field selector %q → %q → %v %v", field, sel.String(), again, err)
			}
		}
		for _, verb := range []string{"list", "watch"} {
			a := Attributes(&authn.User{Name: "u"}, &RequestInfo{IsResourceRequest: true, Verb: verb, Resource: "secrets", Namespace: "ns", FieldSelector: field})
			if a.Name == "" {
				continue
			}
			if err != nil {
				t.Fatalf("%q does not parse, yet narrowed to %q", field, a.Name)
			}
			if name, ok := sel.RequiresExactMatch("metadata.name"); !ok || name != a.Name {
				t.Fatalf("%q narrowed to %q, but requires %q (%v)", field, a.Name, name, ok)
			}
			if matched := sel.Matches(fields.Set{"metadata.name": a.Name + "x"}); matched {
				t.Fatalf("%q narrowed to %q also matches another name", field, a.Name)
			}
		}
	})
}

// FuzzPatch applies JSON, merge and strategic merge patches to a stored
// object's JSON. Nothing panics, a refusal is a Status error, and an
// accepted patch gives JSON no larger than the body limit allows.
func FuzzPatch(f *testing.F) {
	cm, _ := json.Marshal(&corev1.ConfigMap{TypeMeta: metaCM, Data: map[string]string{"a": "b"}})
	f.Add(uint8(0), cm, []byte(`[{"op":"add","path":"/data/c","value":"d"},{"op":"copy","from":"/data","path":"/metadata/labels"}]`))
	f.Add(uint8(1), cm, []byte(`{"data":{"a":null,"x":"y"}}`))
	f.Add(uint8(2), cm, []byte(`{"data":{"$patch":"replace","z":"1"}}`))
	f.Add(uint8(2), cm, []byte(`{"metadata":{"$setElementOrder/finalizers":["a"]}}`))
	res := catalog.ConfigMaps()
	types := []string{patchJSON, patchMerge, patchStrategic}
	f.Fuzz(func(t *testing.T, kind uint8, original, patch []byte) {
		if !json.Valid(original) {
			return
		}
		out, err := applyPatch(res, res.New(), types[int(kind)%len(types)], original, patch)
		if err != nil {
			if _, ok := err.(apierrors.APIStatus); !ok {
				t.Fatalf("patch refused with a %T, not a Status: %v", err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("the patched object is not JSON: %q", out)
		}
		if len(out) > len(original)+len(patch)+MaxBodyBytes {
			t.Fatalf("a %d-byte patch grew a %d-byte object to %d bytes", len(patch), len(original), len(out))
		}
	})
}

var metaCM = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}

func requirements(sel fields.Selector) []string {
	var out []string
	for _, r := range sel.Requirements() {
		out = append(out, r.Field+"\x00"+string(r.Operator)+"\x00"+r.Value)
	}
	slices.Sort(out)
	return out
}

// FuzzDecodeBody feeds JSON and YAML bodies through the server's decoding
// of an object. Nothing panics; a body that is not valid UTF-8 is refused;
// and what is accepted, encoded again and decoded, is the same object.
func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":"b"}},"data":{"k":"v"}}`), false)
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: v\n"), true)
	f.Add([]byte("a: &a [*a, *a]\n"), true)
	f.Add([]byte(`{"metadata":{"name":"x"},"data":{"k":"\ud83d\ude00"},"unknown":1}`), false)
	f.Add([]byte("{\"data\":{\"k\":\"\xff\"}}"), false)
	t := bodyTypeOf(catalog.ConfigMaps())
	f.Fuzz(func(tt *testing.T, data []byte, isYAML bool) {
		body := data
		if err := checkText(body); err != nil {
			if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
				tt.Fatalf("valid UTF-8 without escapes refused: %v", err)
			}
			return
		}
		if !utf8.Valid(body) {
			tt.Fatal("invalid UTF-8 accepted")
		}
		if isYAML {
			var err error
			if body, err = yamlToJSON(body); err != nil {
				return
			}
			if checkText(body) != nil {
				return
			}
		}
		for _, directive := range []string{fieldValidationStrict, fieldValidationWarn, fieldValidationIgnore} {
			obj, _, err := decodeObject(t, body, directive)
			if err != nil {
				if _, ok := err.(apierrors.APIStatus); !ok {
					tt.Fatalf("refused with a %T, not a Status: %v", err, err)
				}
				continue
			}
			enc, err := json.Marshal(obj)
			if err != nil {
				tt.Fatalf("a decoded object does not encode: %v", err)
			}
			again, _, err := decodeObject(t, enc, fieldValidationStrict)
			if err != nil {
				tt.Fatalf("the re-encoded object does not decode: %v\n%s", err, enc)
			}
			if !apiequality.Semantic.DeepEqual(obj, again) {
				tt.Fatalf("round trip changed the object:\n%+v\n%+v", obj, again)
			}
		}
	})
}

// FuzzImpersonationHeaders feeds Impersonate-* headers to their parser.
// Nothing panics; a request to impersonate always names a user; and every
// part of it is valid UTF-8 and comes from a header that was sent.
func FuzzImpersonationHeaders(f *testing.F) {
	f.Add("alice", "dev", "uid-1", "Acme.com%2Fproject", "p1")
	f.Add("", "system:masters", "", "", "")
	f.Add("system:serviceaccount:ns:sa", "", "", "scopes", "view")
	f.Add("bob\xff", "g", "", "%zz", "v")
	f.Fuzz(func(t *testing.T, user, group, uid, extraKey, extraValue string) {
		h := http.Header{}
		set := func(k, v string) {
			if v != "" {
				h[k] = []string{v}
			}
		}
		set(headerImpersonateUser, user)
		set(headerImpersonateGroup, group)
		set(headerImpersonateUID, uid)
		if extraKey != "" {
			set(headerImpersonateExtraPrefix+extraKey, extraValue)
		}
		req, err := readImpersonation(h)
		if err != nil || req == nil {
			return
		}
		if req.user == "" || req.user != user {
			t.Fatalf("impersonating %q from the header %q", req.user, user)
		}
		if !utf8.ValidString(req.user) || !utf8.ValidString(req.uid) {
			t.Fatal("accepted a name that is not valid UTF-8")
		}
		for _, g := range req.groups {
			if g != group || !utf8.ValidString(g) {
				t.Fatalf("group %q from the header %q", g, group)
			}
		}
		for k, vs := range req.extra {
			for _, v := range vs {
				if !utf8.ValidString(k) || !utf8.ValidString(v) || v != extraValue {
					t.Fatalf("extra %q=%q from %q=%q", k, v, extraKey, extraValue)
				}
			}
		}
	})
}
