package compat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// listable reads the reference list of what kube-apiserver serves and
// returns the list path of every top-level resource that supports list.
func listable(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "internal", "catalog", "testdata", "kube-apiserver-1.37-resources-with-subresources.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || strings.HasPrefix(fields[0], "#") || strings.Contains(fields[1], "/") {
			continue
		}
		if !strings.Contains(","+strings.TrimPrefix(fields[4], "verbs=")+",", ",list,") {
			continue
		}
		prefix := "/apis/" + fields[0]
		if fields[0] == "v1" {
			prefix = "/api/v1"
		}
		paths = append(paths, prefix+"/"+fields[1])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return paths
}

var update = flag.Bool("update", false, "rewrite the recorded kube-apiserver answers in testdata")

// tablesFile records kube-apiserver's table columns for the catalogue's unit
// test, which runs without a kube-apiserver.
var tablesFile = filepath.Join("..", "..", "internal", "catalog", "testdata", "kube-apiserver-1.37-tables.json")

// TestTablesMatchKubeAPIServer asks both servers for every resource as a
// server-side Table (what kubectl get prints) and requires the same columns:
// names, types, formats and wide-only priority (descriptions are prose). It also
// requires the recorded copy of kube-apiserver's columns to be current
// (go test -update rewrites it).
func TestTablesMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	const asTable = "application/json;as=Table;v=v1;g=meta.k8s.io"
	recorded := map[string][]metav1.TableColumnDefinition{}
	for _, path := range listable(t) {
		var want, got metav1.Table
		if code := kube.get(t, path, asTable, &want); code != 200 {
			t.Errorf("kube-apiserver GET %s: %d", path, code)
			continue
		}
		recorded[path] = want.ColumnDefinitions
		if reason, ok := notServed[path]; ok {
			t.Logf("%s: not compared: %s", path, reason)
			continue
		}
		if code := sekisho.get(t, path, asTable, &got); code != 200 {
			t.Errorf("sekisho GET %s: %d", path, code)
			continue
		}
		if len(got.ColumnDefinitions) != len(want.ColumnDefinitions) {
			t.Errorf("%s: columns\n got %v\nwant %v", path, columnNames(got), columnNames(want))
			continue
		}
		for i, w := range want.ColumnDefinitions {
			if g := got.ColumnDefinitions[i]; g.Name != w.Name || g.Type != w.Type || g.Format != w.Format || g.Priority != w.Priority {
				t.Errorf("%s column %d:\n got %+v\nwant %+v", path, i, g, w)
			}
		}
	}
	record(t, tablesFile, recorded)
}

// record keeps a copy of what kube-apiserver answered where a unit test
// reads it: with -update it rewrites the file, otherwise it requires the
// file to be current.
func record(t *testing.T, file string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if old, err := os.ReadFile(file); err != nil || !bytes.Equal(old, data) {
		t.Errorf("%s is not what kube-apiserver answers (err %v); rerun with -update", file, err)
	}
}

// notServed are the listable resources sekisho does not serve (yet), each
// with its reason.
var notServed = map[string]string{
	"/apis/apiextensions.k8s.io/v1/customresourcedefinitions": "custom resources are a later issue; sekisho lists none",
}

func columnNames(tab metav1.Table) []string {
	var names []string
	for _, c := range tab.ColumnDefinitions {
		name := c.Name
		if c.Priority > 0 {
			name += "(w)"
		}
		names = append(names, name)
	}
	return names
}

// fieldLabels are every field selector any built-in resource of
// kube-apiserver v1.37 supports (from its field label conversions and
// selectable fields), tried on every resource.
var fieldLabels = []string{
	"metadata.name", "metadata.namespace",
	"spec.nodeName", "spec.host", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
	"status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
	"spec.unschedulable", "status.replicas", "status.successful", "spec.clusterIP", "spec.type", "type",
	"spec.signerName", "spec.podName", "spec.driver", "spec.pool.name",
	"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
	"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
	"reason", "reportingComponent", "source", "reportingController",
	"regarding.kind", "regarding.name", "regarding.namespace", "deprecatedSource",
	"spec.foo",
}

// TestFieldSelectorsMatchKubeAPIServer lists every resource with every
// field selector on both servers: each must be supported (200) or refused
// (400) alike.
func TestFieldSelectorsMatchKubeAPIServer(t *testing.T) {
	c := newCluster(t)
	kube := c.startKubeAPIServer()
	sekisho := c.startSekisho()
	for _, path := range listable(t) {
		if _, ok := notServed[path]; ok {
			continue
		}
		for _, label := range fieldLabels {
			q := path + "?limit=1&fieldSelector=" + label + "%3Dx"
			kc, kb := kube.do(t, "GET", q, "")
			sc, sb := sekisho.do(t, "GET", q, "")
			if kc != sc {
				t.Errorf("%s with %s: kube-apiserver %d, sekisho %d: %s", path, label, kc, sc, sb)
				continue
			}
			if kc != 200 {
				var ks, ss struct{ Message string }
				json.Unmarshal([]byte(kb), &ks)
				json.Unmarshal([]byte(sb), &ss)
				if ks != ss {
					t.Errorf("%s with %s: kube-apiserver %q, sekisho %q", path, label, ks.Message, ss.Message)
				}
			}
		}
	}
}
