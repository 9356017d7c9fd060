package e2e

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
)

// contentTypes records the Content-Type of every successful response.
type contentTypes struct {
	mu   sync.Mutex
	seen map[string]string // request "METHOD path" -> response Content-Type
}

func (c *contentTypes) wrap(rt http.RoundTripper) http.RoundTripper {
	return &recordingTransport{next: rt, c: c}
}

type recordingTransport struct {
	next http.RoundTripper
	c    *contentTypes
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil && resp.StatusCode < 300 {
		r.c.mu.Lock()
		r.c.seen[req.Method+" "+req.URL.Path] = resp.Header.Get("Content-Type")
		r.c.mu.Unlock()
	}
	return resp, err
}

// TestProtobufClients drives sekisho with client-go's typed and metadata
// clients set to protobuf only, as kube-controller-manager, kube-scheduler
// and kubelets are: create, get, list, watch, scale, reviews and delete must
// all answer in protobuf, and what comes back must be what was stored.
func TestProtobufClients(t *testing.T) {
	s := startServer(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	seen := &contentTypes{seen: map[string]string{}}
	cfg.WrapTransport = seen.wrap
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pb"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := client.AppsV1().Deployments("pb").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	created, err := client.AppsV1().Deployments("pb").Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.Spec.Template.Spec.Containers[0].Image != "nginx" ||
		created.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("created deployment lacks its fields or defaults: %+v", created.Spec)
	}
	got, err := client.AppsV1().Deployments("pb").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != created.ResourceVersion || got.Labels["app"] != "web" {
		t.Fatalf("get: %v %+v", err, got.ObjectMeta)
	}
	list, err := client.AppsV1().Deployments("pb").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "web" || list.ResourceVersion == "" {
		t.Fatalf("list: %v %+v", err, list)
	}

	scale, err := client.AppsV1().Deployments("pb").GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || scale.Spec.Replicas != 2 {
		t.Fatalf("get scale: %v %+v", err, scale)
	}
	scale.Spec.Replicas = 5
	if _, err := client.AppsV1().Deployments("pb").UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "pb"}, Spec: autoscalingv1.ScaleSpec{Replicas: 5},
	}, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update scale: %v", err)
	}

	tr, err := client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}}, metav1.CreateOptions{})
	if err != nil || tr.Status.Authenticated {
		t.Fatalf("token review: %v %+v", err, tr)
	}
	ssar, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}},
	}, metav1.CreateOptions{})
	if err != nil || !ssar.Status.Allowed {
		t.Fatalf("self subject access review: %v %+v", err, ssar)
	}

	if err := client.AppsV1().Deployments("pb").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var events []string
	for len(events) < 3 {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %+v", ev.Object)
			}
			dep := ev.Object.(*appsv1.Deployment)
			events = append(events, string(ev.Type)+":"+dep.Name)
		case <-ctx.Done():
			t.Fatalf("watch saw only %v", events)
		}
	}
	if strings.Join(events, " ") != "ADDED:web MODIFIED:web DELETED:web" {
		t.Errorf("watch events %v", events)
	}

	// The metadata client (garbage collector, quota) asks for
	// PartialObjectMetadataList in protobuf.
	meta := metadata.NewForConfigOrDie(cfg)
	ml, err := meta.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).List(ctx, metav1.ListOptions{})
	if err != nil || len(ml.Items) == 0 || ml.Items[0].Name == "" {
		t.Fatalf("metadata list: %v %+v", err, ml)
	}

	// A streaming list through the metadata client ends its initial
	// events with a bookmark, which must be PartialObjectMetadata too (the
	// metadata client knows no APIService kind).
	send := true
	mw, err := meta.Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}).Watch(ctx, metav1.ListOptions{
		SendInitialEvents: &send, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mw.Stop()
	for done := false; !done; {
		select {
		case ev, ok := <-mw.ResultChan():
			if !ok || ev.Type == watch.Error {
				t.Fatalf("metadata watch ended: %+v", ev.Object)
			}
			pm := ev.Object.(*metav1.PartialObjectMetadata)
			done = ev.Type == watch.Bookmark && pm.Annotations[metav1.InitialEventsAnnotationKey] == "true"
		case <-ctx.Done():
			t.Fatal("no bookmark ended the metadata watch's initial events")
		}
	}

	for req, ct := range seen.seen {
		if !strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf") {
			t.Errorf("%s answered %q, not protobuf", req, ct)
		}
	}
	if len(seen.seen) < 8 {
		t.Errorf("only %d requests recorded: %v", len(seen.seen), seen.seen)
	}
}

// TestProtobufWire checks that a client accepting only a media
// type sekisho cannot produce gets kube-apiserver's 406, and that a
// protobuf answer starts with Kubernetes' envelope.
func TestProtobufWire(t *testing.T) {
	s := startServer(t)
	resp, body := s.doHeaders("GET", "/api/v1/namespaces/default", "", "", map[string]string{"Accept": "application/vnd.kubernetes.protobuf"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.kubernetes.protobuf" || !bytes.HasPrefix([]byte(body), []byte("k8s\x00")) {
		t.Errorf("protobuf get: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body[:min(len(body), 16)])
	}
	resp, _ = s.doHeaders("GET", "/api/v1/namespaces/default", "", "", map[string]string{"Accept": "application/cbor"})
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("cbor get: %d, want 406", resp.StatusCode)
	}
}
