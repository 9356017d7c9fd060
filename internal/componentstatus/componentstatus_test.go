package componentstatus

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func healthz(code int, body string) *httptest.Server {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}))
	return ts
}

// closedAddress is a local address nothing listens on.
func closedAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestProbes(t *testing.T) {
	healthy := healthz(http.StatusOK, "ok")
	defer healthy.Close()
	failing := healthz(http.StatusInternalServerError, "[-]leader failed")
	defer failing.Close()
	closed := closedAddress(t)
	p := &Prober{Probes: []Probe{
		{Name: "controller-manager", Check: HTTPS(strings.TrimPrefix(healthy.URL, "https://"))},
		{Name: "scheduler", Check: HTTPS(strings.TrimPrefix(failing.URL, "https://"))},
		{Name: "gone", Check: HTTPS(closed)},
		{Name: "bbolt", Check: Storage(func(context.Context) error { return nil })},
		{Name: "broken", Check: Storage(func(context.Context) error { return errors.New("database not open") })},
	}}
	want := map[string]corev1.ComponentCondition{
		"controller-manager": {Type: "Healthy", Status: "True", Message: "ok"},
		// kube-apiserver keeps the body out of a failure's message.
		"scheduler": {Type: "Healthy", Status: "False", Message: "HTTP probe failed with statuscode: 500"},
		"bbolt":     {Type: "Healthy", Status: "True", Message: "ok"},
		"broken":    {Type: "Healthy", Status: "False", Error: "database not open"},
	}
	objs, err := p.List(context.Background())
	if err != nil || len(objs) != len(p.Probes) {
		t.Fatalf("List: %d objects, %v", len(objs), err)
	}
	for i, obj := range objs {
		cs := obj.(*corev1.ComponentStatus)
		if cs.Name != p.Probes[i].Name || len(cs.Conditions) != 1 {
			t.Fatalf("item %d: %+v", i, cs)
		}
		got := cs.Conditions[0]
		if cs.Name == "gone" {
			if got.Status != "False" || !strings.Contains(got.Message, "connection refused") || !strings.Contains(got.Message, closed) {
				t.Errorf("gone: %+v", got)
			}
			continue
		}
		if got != want[cs.Name] {
			t.Errorf("%s: %+v, want %+v", cs.Name, got, want[cs.Name])
		}
	}
	obj, err := p.Get(context.Background(), "scheduler")
	if err != nil || obj.(*corev1.ComponentStatus).Conditions[0].Status != "False" {
		t.Errorf("Get scheduler: %v %v", obj, err)
	}
	_, err = p.Get(context.Background(), "etcd-9")
	if !apierrors.IsNotFound(err) || err.Error() != `componentstatus "etcd-9" not found` {
		t.Errorf("Get etcd-9: %v", err)
	}
}

func TestDefaultNames(t *testing.T) {
	p := Default("bbolt", func(context.Context) error { return nil })
	var names []string
	for _, pr := range p.Probes {
		names = append(names, pr.Name)
	}
	if strings.Join(names, ",") != "controller-manager,scheduler,bbolt" {
		t.Errorf("names %v", names)
	}
}
