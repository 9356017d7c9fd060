package compat

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestComponentStatusesMatchKubeAPIServer reads componentstatuses from
// both servers while test servers play the scheduler and the
// controller-manager at their default ports: both servers must answer
// alike for each state, warn alike, and refuse alike. The store is
// etcd-0 on kube-apiserver and bbolt on sekisho.
func TestComponentStatusesMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	const path = "/api/v1/componentstatuses"

	read := func(s *server, p string) (int, string, string) {
		req, err := http.NewRequest("GET", s.url+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Warning"), string(body)
	}
	compare := func(what, p string) {
		t.Helper()
		kc, kw, kb := read(kube, p)
		sc, sw, sb := read(sekisho, p)
		if kc != sc || kw != sw {
			t.Errorf("%s: kube-apiserver %d %q, sekisho %d %q\n kube-apiserver: %s\n sekisho: %s", what, kc, kw, sc, sw, kb, sb)
			return
		}
		if kc != 200 {
			var ks, ss struct{ Reason, Message string }
			json.Unmarshal([]byte(kb), &ks)
			json.Unmarshal([]byte(sb), &ss)
			if ks != ss {
				t.Errorf("%s: kube-apiserver %+v, sekisho %+v", what, ks, ss)
			}
			return
		}
		var diffs []string
		diff("", normalized(t, sb), normalized(t, kb), &diffs)
		if len(diffs) > 0 {
			t.Errorf("%s: answered differently:\n  %s", what, strings.Join(diffs, "\n  "))
		}
	}
	// list compares the lists item by item, the store's items aside.
	list := func(what string) {
		t.Helper()
		var kl, sl struct {
			Kind, APIVersion string
			Items            []json.RawMessage
		}
		if kube.get(t, path, "", &kl) != 200 || sekisho.get(t, path, "", &sl) != 200 {
			t.Fatalf("%s: list failed", what)
		}
		items := func(l []json.RawMessage) map[string]string {
			out := map[string]string{}
			for _, raw := range l {
				var item struct{ Metadata struct{ Name string } }
				json.Unmarshal(raw, &item)
				out[item.Metadata.Name] = string(raw)
			}
			return out
		}
		ki, si := items(kl.Items), items(sl.Items)
		if kl.Kind != sl.Kind || kl.APIVersion != sl.APIVersion || len(ki) != 3 || len(si) != 3 || ki["etcd-0"] == "" || si["bbolt"] == "" {
			t.Errorf("%s: kube-apiserver %s %v, sekisho %s %v", what, kl.Kind, ki, sl.Kind, si)
		}
		for _, name := range []string{"scheduler", "controller-manager"} {
			var diffs []string
			diff("", normalized(t, si[name]), normalized(t, ki[name]), &diffs)
			if len(diffs) > 0 {
				t.Errorf("%s: %s differs:\n  %s", what, name, strings.Join(diffs, "\n  "))
			}
		}
		var ks, ss map[string]any
		json.Unmarshal([]byte(ki["etcd-0"]), &ks)
		json.Unmarshal([]byte(si["bbolt"]), &ss)
		if kc, sc := ks["conditions"], ss["conditions"]; !jsonEqual(kc, sc) {
			t.Errorf("%s: etcd-0 %v, bbolt %v", what, kc, sc)
		}
	}

	// Nothing listens at the default ports yet.
	list("no components")
	compare("get scheduler, refused", path+"/scheduler")
	compare("get an unknown component", path+"/etcd-9")
	compare("watch", path+"?watch=1")
	compare("a field selector on the name", path+"?fieldSelector=metadata.name%3Dscheduler")
	compare("a field selector on another field", path+"?fieldSelector=status.phase%3DRunning")
	compare("a label selector", path+"?labelSelector=a%3Db")
	compare("through a namespace", "/api/v1/namespaces/default/componentstatuses")

	healthy := component(t, "127.0.0.1:10259", http.StatusOK, "ok")
	defer healthy.Close()
	failing := component(t, "127.0.0.1:10257", http.StatusInternalServerError, "[-]leaderElection failed")
	defer failing.Close()
	list("a healthy scheduler, a failing controller-manager")
	compare("get scheduler, healthy", path+"/scheduler")
	compare("get controller-manager, failing", path+"/controller-manager")
	compare("get as a table", path+"/scheduler?as=Table")
}

// component serves /healthz over TLS at address, as a control-plane
// component does.
func component(t *testing.T, address string, code int, body string) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatalf("this test plays a component at its default port %s: %v", address, err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	ts.Listener.Close()
	ts.Listener = l
	ts.StartTLS()
	return ts
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
