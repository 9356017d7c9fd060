package compat

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// extension is an aggregated API server both API servers proxy to: it
// serves widgets.example.com/v1 as widgets.default.svc and records, per
// API server (told apart by the path's namespace), the headers of each
// request that presented a front-proxy client certificate.
type extension struct {
	port     string
	caBundle string
	mu       sync.Mutex
	seen     map[string]http.Header // by namespace
}

func startExtension(t *testing.T, c *cluster) *extension {
	t.Helper()
	caPEM, serving := testServingCert(t, "widgets-ca", "widgets", []string{"widgets.default.svc"}, nil)
	frontProxyCA, err := os.ReadFile(c.pki("front-proxy-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	clients := x509.NewCertPool()
	clients.AppendCertsFromPEM(frontProxyCA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    clients,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	e := &extension{port: port, seen: map[string]http.Header{},
		caBundle: base64.StdEncoding.EncodeToString(caPEM)}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "front-proxy-client" {
			http.Error(w, "not the front proxy", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/apis/widgets.example.com/v1" {
			fmt.Fprint(w, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"widgets.example.com/v1","resources":[`+
				`{"name":"widgets","singularName":"widget","namespaced":true,"kind":"Widget","verbs":["get","list"],"shortNames":["wd"],"categories":["all"]},`+
				`{"name":"widgets/status","singularName":"","namespaced":true,"kind":"Widget","verbs":["get"]}]}`)
			return
		}
		if r.URL.Path == "/openapi/v3" {
			fmt.Fprint(w, `{"paths":{"apis/widgets.example.com/v1":{"serverRelativeURL":"/openapi/v3/apis/widgets.example.com/v1?hash=0123"}}}`)
			return
		}
		if r.URL.Path == "/openapi/v3/apis/widgets.example.com/v1" {
			fmt.Fprint(w, `{"openapi":"3.0.0","info":{"title":"widgets","version":"v1"},"paths":{},"components":{"schemas":{"com.example.widgets.v1.Widget":{"type":"object"}}}}`)
			return
		}
		if parts := strings.Split(r.URL.Path, "/"); len(parts) > 5 && parts[4] == "namespaces" {
			e.mu.Lock()
			e.seen[parts[5]] = r.Header.Clone()
			e.mu.Unlock()
		}
		fmt.Fprint(w, `{"kind":"WidgetList","apiVersion":"widgets.example.com/v1","metadata":{"resourceVersion":"1"},"items":[]}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e
}

// identityHeaders are the headers that name a user or carry a
// credential, with their values, as one sorted line each.
func identityHeaders(h http.Header) []string {
	var out []string
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-remote-") || strings.HasPrefix(lk, "impersonate-") || lk == "authorization" {
			out = append(out, k+": "+strings.Join(vs, ","))
		}
	}
	sort.Strings(out)
	return out
}

// TestAggregatedAPIMatchesKubeAPIServer registers the same extension API
// server with kube-apiserver and with sekisho: both must report it
// available, list it in discovery alike, and send it the same identity
// headers for the same impersonated request; an APIService whose service
// is missing gets the same condition and the same 503.
func TestAggregatedAPIMatchesKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	ext := startExtension(t, c)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	service := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"widgets","namespace":"default"},"spec":{"type":"ExternalName","externalName":"127.0.0.1"}}`
	apiService := func(group, svc string) string {
		return fmt.Sprintf(`{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1.%s"},"spec":{"group":%q,"version":"v1",`+
			`"groupPriorityMinimum":1000,"versionPriority":15,"service":{"namespace":"default","name":%q,"port":%s},"caBundle":%q}}`, group, group, svc, ext.port, ext.caBundle)
	}
	type condition struct{ Type, Status, Reason, Message string }
	available := func(s *server, name string) condition {
		var got struct {
			Status struct{ Conditions []condition }
		}
		s.get(t, "/apis/apiregistration.k8s.io/v1/apiservices/"+name, "", &got)
		for _, c := range got.Status.Conditions {
			if c.Type == "Available" {
				return c
			}
		}
		return condition{}
	}
	for _, s := range []*server{kube, sekisho} {
		for _, body := range []string{service, apiService("widgets.example.com", "widgets"), apiService("missing.example.com", "missing")} {
			path := "/apis/apiregistration.k8s.io/v1/apiservices"
			if strings.Contains(body, `"kind":"Service"`) {
				path = "/api/v1/namespaces/default/services"
			}
			if code, out := s.do(t, "POST", path, body); code != http.StatusCreated {
				t.Fatalf("%s: POST %s: %d %s", s.name, path, code, out)
			}
		}
	}
	for _, s := range []*server{kube, sekisho} {
		deadline := time.Now().Add(60 * time.Second)
		for available(s, "v1.widgets.example.com").Status != "True" || available(s, "v1.missing.example.com").Reason == "" {
			if time.Now().After(deadline) {
				t.Fatalf("%s: widgets %+v, missing %+v", s.name, available(s, "v1.widgets.example.com"), available(s, "v1.missing.example.com"))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, name := range []string{"v1.widgets.example.com", "v1.missing.example.com"} {
		if k, s := available(kube, name), available(sekisho, name); k != s {
			t.Errorf("%s: Available condition\n kube-apiserver %+v\n sekisho        %+v", name, k, s)
		}
	}

	// The Local APIServices each server registers for its own versions:
	// the same names, priorities and condition, but for the versions
	// sekisho does not serve (autoscaling/v1; apiextensions.k8s.io, whose
	// custom resources it does not serve).
	locals := func(s *server) []string {
		var list struct {
			Items []struct {
				Metadata struct {
					Name   string
					Labels map[string]string
				}
				Spec struct {
					GroupPriorityMinimum, VersionPriority int32
				}
				Status struct{ Conditions []condition }
			}
		}
		s.get(t, "/apis/apiregistration.k8s.io/v1/apiservices", "", &list)
		var out []string
		for _, i := range list.Items {
			if i.Metadata.Labels["kube-aggregator.kubernetes.io/automanaged"] == "" || i.Metadata.Name == "v1.autoscaling" || i.Metadata.Name == "v1.apiextensions.k8s.io" {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s %d/%d %+v", i.Metadata.Name, i.Metadata.Labels["kube-aggregator.kubernetes.io/automanaged"],
				i.Spec.GroupPriorityMinimum, i.Spec.VersionPriority, i.Status.Conditions))
		}
		sort.Strings(out)
		return out
	}
	if k, s := locals(kube), locals(sekisho); len(k) < 15 || strings.Join(k, "\n") != strings.Join(s, "\n") {
		t.Errorf("Local APIServices\n kube-apiserver:\n  %s\n sekisho:\n  %s", strings.Join(k, "\n  "), strings.Join(s, "\n  "))
	}

	// The order of the groups in discovery, which kubectl keeps.
	groupOrder := func(s *server, accept string) string {
		var v1 struct{ Groups []struct{ Name string } }
		var v2 struct {
			Items []struct{ Metadata struct{ Name string } }
		}
		var names []string
		if accept == "" {
			s.get(t, "/apis", "application/json", &v1)
			for _, g := range v1.Groups {
				names = append(names, g.Name)
			}
		} else {
			s.get(t, "/apis", accept, &v2)
			for _, g := range v2.Items {
				names = append(names, g.Metadata.Name)
			}
		}
		names = slices.DeleteFunc(names, func(n string) bool { return n == "apiextensions.k8s.io" || n == "sekisho.io" })
		return strings.Join(names, " ")
	}
	for _, accept := range []string{"", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"} {
		if k, s := groupOrder(kube, accept), groupOrder(sekisho, accept); k != s {
			t.Errorf("/apis (%q) group order\n kube-apiserver %s\n sekisho        %s", accept, k, s)
		}
	}

	// Discovery: the group document, and the group's entry in aggregated
	// discovery (what kubectl reads).
	type groupDoc struct {
		Name             string
		Versions         []map[string]string
		PreferredVersion map[string]string
	}
	var kg, sg groupDoc
	kube.get(t, "/apis/widgets.example.com", "", &kg)
	sekisho.get(t, "/apis/widgets.example.com", "", &sg)
	if fmt.Sprint(kg) != fmt.Sprint(sg) {
		t.Errorf("/apis/widgets.example.com\n kube-apiserver %+v\n sekisho        %+v", kg, sg)
	}
	aggregated := func(s *server, group string) string {
		var list struct {
			Items []struct {
				Metadata struct{ Name string }
				Versions json.RawMessage
			}
		}
		s.get(t, "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", &list)
		for _, g := range list.Items {
			if g.Metadata.Name == group {
				var v any
				json.Unmarshal(g.Versions, &v)
				out, _ := json.Marshal(v)
				return string(out)
			}
		}
		return "(absent)"
	}
	for _, group := range []string{"widgets.example.com", "missing.example.com"} {
		if k, s := aggregated(kube, group), aggregated(sekisho, group); k != s {
			t.Errorf("aggregated discovery of %s\n kube-apiserver %s\n sekisho        %s", group, k, s)
		}
	}

	// OpenAPI v3: both list the extension's document in their index and
	// serve it.
	for _, s := range []*server{kube, sekisho} {
		deadline := time.Now().Add(90 * time.Second)
		for {
			var index struct {
				Paths map[string]struct{ ServerRelativeURL string }
			}
			s.get(t, "/openapi/v3", "application/json", &index)
			if entry, ok := index.Paths["apis/widgets.example.com/v1"]; ok {
				var doc struct {
					Components struct{ Schemas map[string]any }
				}
				if code := s.get(t, entry.ServerRelativeURL, "application/json", &doc); code != http.StatusOK || doc.Components.Schemas["com.example.widgets.v1.Widget"] == nil {
					t.Errorf("%s: %s: %d %+v", s.name, entry.ServerRelativeURL, code, doc)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: /openapi/v3 does not list apis/widgets.example.com/v1", s.name)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	// The same impersonated request: the extension must see the same
	// identity headers from both, and no credential of the client's.
	headers := map[string]string{
		"Impersonate-User": "alice", "Impersonate-Group": "system:masters", "Impersonate-Uid": "alice-1",
		"Impersonate-Extra-Acme.com%2Fteam": "blue",
	}
	for _, s := range []*server{kube, sekisho} {
		ns := strings.ReplaceAll(s.name, "-", "")
		if code, out := s.sendHeaders(t, "GET", "/apis/widgets.example.com/v1/namespaces/"+ns+"/widgets", "", "", headers); code != http.StatusOK {
			t.Errorf("%s: read through the aggregator: %d %s", s.name, code, out)
		}
	}
	ext.mu.Lock()
	k, s := identityHeaders(ext.seen["kubeapiserver"]), identityHeaders(ext.seen["sekisho"])
	ext.mu.Unlock()
	if len(k) == 0 || strings.Join(k, "\n") != strings.Join(s, "\n") {
		t.Errorf("identity headers the extension saw\n kube-apiserver %q\n sekisho        %q", k, s)
	}

	// A version whose service is missing answers 503 from both.
	kc, _ := kube.do(t, "GET", "/apis/missing.example.com/v1/namespaces/default/things", "")
	sc, _ := sekisho.do(t, "GET", "/apis/missing.example.com/v1/namespaces/default/things", "")
	if kc != http.StatusServiceUnavailable || sc != kc {
		t.Errorf("a missing service: kube-apiserver %d, sekisho %d", kc, sc)
	}
}
