package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
)

// objects is a Reader over a fixed set of objects.
type objects map[string]catalog.Object

func (o objects) GetObject(_ context.Context, r *catalog.Resource, namespace, name string) (catalog.Object, error) {
	if obj, ok := o[r.Name+"/"+namespace+"/"+name]; ok {
		return obj, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: r.Name}, name)
}

func (o objects) ListObjects(context.Context, *catalog.Resource, string, string) ([]catalog.Object, error) {
	return nil, nil
}

// backend records what reaches it: a kubelet that refuses every upgrade
// and answers everything else with its request line.
type backend struct {
	mu   sync.Mutex
	seen []string
	hdr  []http.Header
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.seen = append(b.seen, r.Method+" "+r.URL.RequestURI())
	b.hdr = append(b.hdr, r.Header.Clone())
	b.mu.Unlock()
	if r.Header.Get("Upgrade") != "" {
		http.Error(w, "no streams here", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI())
}

func testProxy(t *testing.T, kubelet *httptest.Server, options ...func(*Config)) (*Proxy, *httptest.Server) {
	t.Helper()
	host, port, _ := net.SplitHostPort(kubelet.Listener.Addr().String())
	var p int32
	fmt.Sscan(port, &p)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: host}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = p
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: "n1",
		Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}}}
	cfg := Config{Catalog: catalog.Builtin(), Objects: objects{"nodes//n1": node, "pods/ns/web": pod},
		PreferredAddressTypes: []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName}}
	for _, o := range options {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	px, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	connects := px.Connects()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /pods/{name}/{subresource}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		fn := connects[catalog.ActionKey{Resource: corev1.SchemeGroupVersion.WithResource(parts[0]), Subresource: parts[2]}]
		if err := fn(w, r, catalog.ConnectTarget{Namespace: "ns", Name: parts[1]}); err != nil {
			st := err.(apierrors.APIStatus).Status()
			http.Error(w, st.Message, int(st.Code))
		}
	}))
	t.Cleanup(front.Close)
	return px, front
}

// A refused upgrade is answered and the client's connection closed:
// bytes sent after it never reach the kubelet (CVE-2018-1002105).
func TestRefusedUpgradeClosesTheConnection(t *testing.T) {
	b := &backend{}
	kubelet := httptest.NewTLSServer(b)
	defer kubelet.Close()
	_, front := testProxy(t, kubelet)
	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "POST /pods/web/exec?container=app&command=sh&stdin=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("refused upgrade: %d, close %v", resp.StatusCode, resp.Close)
	}
	fmt.Fprint(conn, "GET /containerLogs/ns/web/app HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Error("the connection answered a second request after a refused upgrade")
	}
	for _, s := range b.seen {
		if strings.Contains(s, "containerLogs") {
			t.Errorf("reached the kubelet after a refused upgrade: %s", s)
		}
	}
	if len(b.seen) != 1 || b.seen[0] != "POST /exec/ns/web/app?command=sh&input=1" {
		t.Errorf("the kubelet saw %q, want the exec in its own parameters", b.seen)
	}
}

// The kubelet never sees the client's credentials or impersonation.
func TestProxyStripsCredentials(t *testing.T) {
	b := &backend{}
	kubelet := httptest.NewTLSServer(b)
	defer kubelet.Close()
	_, front := testProxy(t, kubelet)
	req, _ := http.NewRequest("GET", front.URL+"/pods/web/log?container=sidecar&tailLines=5&follow=true&bogus=1", nil)
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Impersonate-User", "root")
	req.Header.Set("X-Remote-User", "root")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "GET /containerLogs/ns/web/sidecar?follow=true&tailLines=5" {
		t.Errorf("the kubelet got %q", body)
	}
	for _, h := range b.hdr {
		for _, k := range []string{"Authorization", "Impersonate-User", "X-Remote-User"} {
			if h.Get(k) != "" {
				t.Errorf("the kubelet saw %s", k)
			}
		}
	}
}

// The container must be named when a pod has several, and must exist.
func TestLogsNeedAContainer(t *testing.T) {
	kubelet := httptest.NewTLSServer(&backend{})
	defer kubelet.Close()
	_, front := testProxy(t, kubelet)
	for path, want := range map[string]string{
		"/pods/web/log":                 "a container name must be specified for pod web, choose one of: [app sidecar]",
		"/pods/web/log?container=nope":  "container nope is not valid for pod web",
		"/pods/web/log?tailLines=-1":    "tailLines: Invalid value: -1",
		"/pods/gone/log?container=app":  `pods "gone" not found`,
		"/pods/web/exec?container=app":  "you must specify at least 1 command",
		"/pods/web/log?limitBytes=zero": "limitBytes: Invalid value",
	} {
		resp, err := http.Get(front.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want %q", path, resp.StatusCode, body, want)
		}
	}
}

// With --kubelet-certificate-authority, a kubelet whose certificate does
// not verify is not talked to; the bundle is watched, and a new one that
// trusts the kubelet is used from the next request, while a broken one is
// refused and the last good one kept.
func TestKubeletCAVerifiesAndReloads(t *testing.T) {
	b := &backend{}
	kubelet := httptest.NewTLSServer(b)
	defer kubelet.Close()
	caFile := filepath.Join(t.TempDir(), "kubelet-ca.crt")
	writeCA := func(data []byte) {
		t.Helper()
		if err := os.WriteFile(caFile+".tmp", data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Rename(caFile+".tmp", caFile)
	}
	certPEM := func(s *httptest.Server) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	}
	// httptest serves every server the same certificate: another CA.
	unrelatedCA := func(t *testing.T) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "unrelated"}, IsCA: true,
			BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	writeCA(unrelatedCA(t))
	_, front := testProxy(t, kubelet, func(c *Config) { c.CAFile = caFile })
	get := func() (int, string) {
		resp, err := http.Get(front.URL + "/pods/web/log?container=app")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "certificate") || len(b.seen) != 0 {
		t.Fatalf("unverified kubelet: %d %s, kubelet saw %v", code, body, b.seen)
	}

	writeCA(certPEM(kubelet))
	deadline := time.Now().Add(5 * time.Second)
	for code, body := get(); code != http.StatusOK; code, body = get() {
		if time.Now().After(deadline) {
			t.Fatalf("the kubelet's CA was not taken: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}

	writeCA([]byte("not a certificate"))
	time.Sleep(1500 * time.Millisecond) // past a check of the file
	if code, body := get(); code != http.StatusOK {
		t.Errorf("a broken bundle replaced the good one: %d %s", code, body)
	}
}

func TestHostPort(t *testing.T) {
	for id, want := range map[string]string{"web": ",web,", "web:8080": ",web,8080", "https:web:8443": "https,web,8443"} {
		s, n, p, err := hostPort(id)
		if err != nil || s+","+n+","+p != want {
			t.Errorf("hostPort(%q) = %s,%s,%s %v", id, s, n, p, err)
		}
	}
	if _, _, _, err := hostPort("ftp:web:21"); err == nil {
		t.Error("ftp accepted as a scheme")
	}
	if got := streamParams("portForward", url.Values{"ports": {"80", "443"}}).Encode(); got != "port=80%2C443" {
		t.Errorf("port-forward parameters: %s", got)
	}
}
