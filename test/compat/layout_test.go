package compat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSharedEtcdLayout puts kube-apiserver v1.37.2 and sekisho on one etcd
// (over mutual TLS, with one EncryptionConfiguration) and checks that each
// reads what the other wrote, for every object of the corpus: the same
// keys, encodings, storage versions and sealed Secrets. Objects created
// through kube-apiserver are read through both and compared; then the
// corpus, renamed, is created through sekisho and compared the same way.
func TestSharedEtcdLayout(t *testing.T) {
	c := newCluster(t)
	enc := filepath.Join(c.dir, "shared-encryption.yaml")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32))
	os.WriteFile(enc, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: shared, secret: "+key+"}]}\n  - identity: {}\n"), 0o600)
	etcdURL := c.startEtcd()
	kube := c.startKubeAPIServerOn(freePort(t), etcdURL, "--encryption-provider-config="+enc)
	sekisho := c.startSekisho("--controllers=*,-resourcequota", "--encryption-provider-config="+enc,
		"--etcd-servers="+etcdURL, "--etcd-cafile="+c.pki("etcd/ca.crt"),
		"--etcd-certfile="+c.pki("apiserver-etcd-client.crt"), "--etcd-keyfile="+c.pki("apiserver-etcd-client.key"))
	kube.do(t, "POST", "/api/v1/namespaces/default/serviceaccounts", `{"metadata":{"name":"default"}}`)

	seen := map[string]bool{}
	compare := func(writer, reader *server, obj map[string]any, path, name string) {
		resource := path[strings.LastIndex(path, "/")+1:]
		fail := func(format string, args ...any) {
			if layoutKnownDifferences[resource] != "" {
				seen[resource] = true
				return
			}
			t.Errorf(format, args...)
		}
		// A controller of either server may change the object between
		// the two reads (kube-apiserver's flow control sets a FlowSchema's
		// Dangling condition): compare two reads of one version.
		var wc, rc int
		var wb, rb string
		for range 10 {
			wc, wb = writer.do(t, "GET", path+"/"+name, "")
			rc, rb = reader.do(t, "GET", path+"/"+name, "")
			if resourceVersionOf(wb) == resourceVersionOf(rb) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if wc != 200 || rc != 200 {
			fail("%s %s: read through %s %d, through %s %d\n %s", path, name, writer.name, wc, reader.name, rc, rb)
			return
		}
		var diffs []string
		diff("", normalized(t, rb), normalized(t, wb), &diffs)
		if len(diffs) > 0 {
			fail("%s %s written through %s reads differently through %s:\n  %s", path, name, writer.name, reader.name, strings.Join(diffs, "\n  "))
		}
		var wm, rm struct {
			Metadata struct{ ResourceVersion, UID string }
		}
		json.Unmarshal([]byte(wb), &wm)
		json.Unmarshal([]byte(rb), &rm)
		if wm.Metadata != rm.Metadata {
			t.Errorf("%s %s: uid and resourceVersion %+v through %s, %+v through %s", path, name, wm.Metadata, writer.name, rm.Metadata, reader.name)
		}
	}

	compared := map[string]int{}
	for round, writer := range []*server{kube, sekisho} {
		reader := sekisho
		if writer == sekisho {
			reader = kube
		}
		for _, co := range readCorpus(t) {
			obj := co.obj.DeepCopy()
			if round == 1 {
				obj.SetName(obj.GetName() + "-s")
			}
			path := collectionPath(t, obj.GroupVersionKind())
			body, _ := json.Marshal(obj.Object)
			if code, _ := writer.do(t, "POST", path, string(body)); code != 201 {
				continue // refused, as the corpus expects of invalid objects
			}
			compare(writer, reader, obj.Object, path, obj.GetName())
			compared[writer.name]++
		}
	}
	if compared["kube-apiserver"] < 150 || compared["sekisho"] < 150 {
		t.Errorf("too few objects compared: %v", compared)
	}
	for resource, reason := range layoutKnownDifferences {
		if !seen[resource] {
			t.Errorf("%s now reads the same through both servers: remove it from layoutKnownDifferences (%s)", resource, reason)
		}
	}
	t.Logf("objects written through each and read through the other: %v", compared)
}

// layoutKnownDifferences are the resources sekisho does not yet store or
// read as kube-apiserver does, with the reason (issue 16). Each must
// still differ: a fixed one leaves the list.
var layoutKnownDifferences = map[string]string{}

func resourceVersionOf(body string) string {
	var m struct {
		Metadata struct{ ResourceVersion string }
	}
	json.Unmarshal([]byte(body), &m)
	return m.Metadata.ResourceVersion
}
