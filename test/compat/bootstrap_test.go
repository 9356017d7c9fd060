package compat

import (
	"encoding/json"
	"sort"
	"testing"
)

// TestBootstrapObjectsMatchKubeAPIServer compares what both servers
// create at start-up beyond namespaces and RBAC (compared elsewhere): the
// system priority classes and the flow-control configuration, by name,
// annotations and spec. Status is left out: sekisho runs no flow-control
// controller to write it.
func TestBootstrapObjectsMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	type item struct {
		Metadata struct {
			Name        string
			Annotations map[string]string
		}
		Spec        json.RawMessage
		Value       int64
		Description string
	}
	read := func(s *server, path string) map[string]string {
		var l struct{ Items []item }
		if code := s.get(t, path, "", &l); code != 200 {
			t.Fatalf("%s GET %s: %d", s.name, path, code)
		}
		out := map[string]string{}
		for _, i := range l.Items {
			b, _ := json.Marshal(i)
			out[i.Metadata.Name] = string(b)
		}
		return out
	}
	// Both servers advertise 127.0.0.1 here: an endpoint may not be a
	// loopback address, so neither has the kubernetes Service's Endpoints.
	const endpoints = "/api/v1/namespaces/default/endpoints/kubernetes"
	if kc, sc := kube.get(t, endpoints, "", nil), sekisho.get(t, endpoints, "", nil); kc != sc {
		t.Errorf("GET %s: kube-apiserver %d, sekisho %d", endpoints, kc, sc)
	}
	for _, path := range []string{
		"/apis/scheduling.k8s.io/v1/priorityclasses",
		"/apis/flowcontrol.apiserver.k8s.io/v1/prioritylevelconfigurations",
		"/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
	} {
		k, s := read(kube, path), read(sekisho, path)
		var names []string
		for name := range k {
			names = append(names, name)
		}
		sort.Strings(names)
		if len(k) != len(s) || len(k) < 2 {
			t.Errorf("%s: kube-apiserver has %d, sekisho %d", path, len(k), len(s))
		}
		for _, name := range names {
			if k[name] != s[name] {
				t.Errorf("%s/%s:\n kube-apiserver %s\n sekisho        %s", path, name, k[name], s[name])
			}
		}
	}
}
