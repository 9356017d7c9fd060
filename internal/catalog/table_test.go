package catalog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestTableColumnsMatchKubernetes pins every served type's columns (name,
// type, format and wide-only priority: what kubectl uses; descriptions are
// our own words) to the ones a real
// kube-apiserver v1.37.2 answers, as recorded by test/compat's
// TestTablesMatchKubeAPIServer, which also checks the recording is current.
func TestTableColumnsMatchKubernetes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "kube-apiserver-1.37-tables.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]metav1.TableColumnDefinition
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for _, res := range Builtin().Resources() {
		if res.Virtual {
			continue // nothing to get
		}
		path := "/apis/" + res.GroupVersion.String() + "/" + res.Name
		if res.GroupVersion.Group == "" {
			path = "/api/v1/" + res.Name
		}
		cols, ok := want[path]
		if !ok {
			t.Errorf("%s: kube-apiserver does not list it", path)
			continue
		}
		got := res.TableFor().Columns
		if len(got) != len(cols) {
			t.Errorf("%s columns\n got %v\nwant %v", path, columnNames(got), columnNames(cols))
			continue
		}
		for i := range cols {
			if g, w := got[i], cols[i]; g.Name != w.Name || g.Type != w.Type || g.Format != w.Format || g.Priority != w.Priority {
				t.Errorf("%s column %d\n got %+v\nwant %+v", path, i, got[i], cols[i])
			}
		}
	}
}

func columnNames(cols []metav1.TableColumnDefinition) []string {
	var names []string
	for _, c := range cols {
		name := c.Name
		if c.Priority > 0 {
			name += "(w)"
		}
		names = append(names, name)
	}
	return names
}

// TestTableCells checks the cells of the types whose columns are computed,
// with what kubectl shows for the same objects.
func TestTableCells(t *testing.T) {
	now := time.Now()
	created := metav1.NewTime(now.Add(-90 * time.Minute))
	r := Builtin()
	cells := func(resource string, obj Object) string {
		t.Helper()
		for _, res := range r.Resources() {
			if res.Name == resource {
				return fmt.Sprint(res.TableFor().Cells(obj, now))
			}
		}
		t.Fatalf("%s is not served", resource)
		return ""
	}
	for _, tc := range []struct {
		resource string
		obj      Object
		want     string
	}{
		{"nodes", &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "cp-1", CreationTimestamp: created, Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
			Spec:       corev1.NodeSpec{Unschedulable: true},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}},
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.0", OSImage: "Debian GNU/Linux 12", KernelVersion: "6.1.0", ContainerRuntimeVersion: "containerd://1.7.0"},
			},
		}, "[cp-1 Ready,SchedulingDisabled control-plane 90m v1.32.0 10.0.0.2 <none> Debian GNU/Linux 12 6.1.0 containerd://1.7.0]"},
		{"services", &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: created},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}, {Port: 53, Protocol: corev1.ProtocolUDP}}},
		}, "[web NodePort 10.96.0.10 <none> 80:30080/TCP,53/UDP 90m app=web]"},
		{"rolebindings", &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "edit-team", Namespace: "dev", CreationTimestamp: created},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "User", Name: "bob"},
				{Kind: "ServiceAccount", Name: "ci", Namespace: "build"}},
		}, "[edit-team ClusterRole/edit 90m alice, bob devs build/ci]"},
		{"events", &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "dev", CreationTimestamp: created},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
			Reason:         "Pulled", Message: "image pulled", Type: "Normal", Count: 3,
			Source:         corev1.EventSource{Component: "kubelet", Host: "cp-1"},
			FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-2 * time.Minute)),
		}, "[2m Normal Pulled pod/web spec.containers{app} kubelet, cp-1 image pulled 10m 3 web.1]"},
	} {
		if got := cells(tc.resource, tc.obj); got != tc.want {
			t.Errorf("%s cells\n got %s\nwant %s", tc.resource, got, tc.want)
		}
	}
}
