package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

type listBody struct {
	Metadata struct {
		ResourceVersion    string
		Continue           string
		RemainingItemCount *int64
	}
	Items []struct {
		Metadata struct {
			Name, ResourceVersion string
			Labels                map[string]string
		}
		Data map[string]string
	}
}

func (s *server) list(t *testing.T, path string) (int, listBody, string) {
	t.Helper()
	code, body := s.do("GET", path, "", nil)
	var l listBody
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
	}
	return code, l, body
}

func (s *server) create(t *testing.T, path, body string) string {
	t.Helper()
	code, resp := s.do("POST", path, "application/json", strings.NewReader(body))
	if code != 201 {
		t.Fatalf("POST %s: %d %s", path, code, resp)
	}
	return resp
}

// TestListSemantics covers limit/continue, resourceVersion and
// resourceVersionMatch, and selectors.
func TestListSemantics(t *testing.T) {
	s := startServer(t, withoutRootCAConfigMaps)
	const cms = "/api/v1/namespaces/default/configmaps"
	for i := range 25 {
		s.create(t, cms, fmt.Sprintf(`{"metadata":{"name":"cm-%02d","labels":{"parity":"%s"}},"data":{"i":"%d"}}`, i, []string{"even", "odd"}[i%2], i))
	}
	_, first, _ := s.list(t, cms+"?limit=10")
	if len(first.Items) != 10 || first.Metadata.Continue == "" || first.Metadata.RemainingItemCount == nil || *first.Metadata.RemainingItemCount != 15 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(first.Items), first.Metadata.Continue, first.Metadata.RemainingItemCount)
	}
	listRV := first.Metadata.ResourceVersion
	// Changes between pages do not show in later pages of the same list.
	code, body := s.do("PATCH", cms+"/cm-20", "application/merge-patch+json", strings.NewReader(`{"data":{"i":"changed"}}`))
	if code != 200 {
		t.Fatal(body)
	}
	s.create(t, cms, `{"metadata":{"name":"cm-99"}}`)
	var names []string
	page := first
	for {
		for _, it := range page.Items {
			names = append(names, it.Metadata.Name)
			if it.Metadata.Name == "cm-20" && it.Data["i"] != "20" {
				t.Errorf("a later page shows a change made after the list began")
			}
		}
		if page.Metadata.Continue == "" {
			break
		}
		if page.Metadata.ResourceVersion != listRV {
			t.Errorf("page at rv %s, list began at %s", page.Metadata.ResourceVersion, listRV)
		}
		_, page, _ = s.list(t, cms+"?limit=10&continue="+page.Metadata.Continue)
	}
	if len(names) != 25 {
		t.Errorf("paged list returned %d names: %v", len(names), names)
	}

	// resourceVersionMatch=Exact reads the past; NotOlderThan and "" read the present.
	_, exact, _ := s.list(t, cms+"?resourceVersion="+listRV+"&resourceVersionMatch=Exact")
	if len(exact.Items) != 25 || exact.Metadata.ResourceVersion != listRV {
		t.Errorf("Exact at %s: %d items at %s", listRV, len(exact.Items), exact.Metadata.ResourceVersion)
	}
	_, latest, _ := s.list(t, cms+"?resourceVersion="+listRV+"&resourceVersionMatch=NotOlderThan")
	if len(latest.Items) != 26 {
		t.Errorf("NotOlderThan: %d items", len(latest.Items))
	}
	code, _, body = s.list(t, cms+"?resourceVersion=99999999")
	if st := parseStatus(t, body); code != 504 || !strings.Contains(st.Message, "Too large resource version") {
		t.Errorf("future resourceVersion: %d %s", code, body)
	}
	code, _, body = s.list(t, cms+"?resourceVersionMatch=Exact")
	if code != 400 {
		t.Errorf("resourceVersionMatch without resourceVersion: %d %s", code, body)
	}
	code, _, body = s.list(t, cms+"?continue=garbage")
	if code != 400 {
		t.Errorf("garbage continue: %d %s", code, body)
	}

	// Selectors, also combined with limit.
	_, odd, _ := s.list(t, cms+"?labelSelector=parity%3Dodd")
	if len(odd.Items) != 12 {
		t.Errorf("labelSelector parity=odd: %d items", len(odd.Items))
	}
	_, oddPage, _ := s.list(t, cms+"?labelSelector=parity%3Dodd&limit=5")
	if len(oddPage.Items) != 5 || oddPage.Metadata.Continue == "" || oddPage.Metadata.RemainingItemCount != nil {
		t.Errorf("filtered page: %d items, continue %q, remaining %v", len(oddPage.Items), oddPage.Metadata.Continue, oddPage.Metadata.RemainingItemCount)
	}
	_, byName, _ := s.list(t, cms+"?fieldSelector=metadata.name%3Dcm-07")
	if len(byName.Items) != 1 || byName.Items[0].Metadata.Name != "cm-07" {
		t.Errorf("fieldSelector metadata.name: %+v", byName.Items)
	}
	_, notName, _ := s.list(t, cms+"?fieldSelector=metadata.name!%3Dcm-07")
	if len(notName.Items) != 25 {
		t.Errorf("fieldSelector metadata.name!=: %d", len(notName.Items))
	}

	// Per-type fields: secrets by type, pods by spec.nodeName and status.phase.
	s.create(t, "/api/v1/namespaces/default/secrets", `{"metadata":{"name":"tls"},"type":"kubernetes.io/tls","data":{"tls.crt":"YQ==","tls.key":"Yg=="}}`)
	s.create(t, "/api/v1/namespaces/default/secrets", `{"metadata":{"name":"plain"},"stringData":{"k":"v"}}`)
	_, tlsOnly, _ := s.list(t, "/api/v1/namespaces/default/secrets?fieldSelector=type%3Dkubernetes.io/tls")
	if len(tlsOnly.Items) != 1 || tlsOnly.Items[0].Metadata.Name != "tls" {
		t.Errorf("secrets by type: %+v", tlsOnly.Items)
	}
	s.create(t, "/api/v1/namespaces/default/pods", `{"metadata":{"name":"on-a"},"spec":{"nodeName":"node-a","containers":[{"name":"c","image":"busybox"}]}}`)
	s.create(t, "/api/v1/namespaces/default/pods", `{"metadata":{"name":"on-b"},"spec":{"nodeName":"node-b","containers":[{"name":"c","image":"busybox"}]}}`)
	_, onA, _ := s.list(t, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a")
	if len(onA.Items) != 1 || onA.Items[0].Metadata.Name != "on-a" {
		t.Errorf("pods by spec.nodeName: %+v", onA.Items)
	}
	_, pending, _ := s.list(t, "/api/v1/pods?fieldSelector=status.phase%3DPending")
	if len(pending.Items) != 2 {
		t.Errorf("pods by status.phase: %d", len(pending.Items))
	}
}

// TestWriteSemantics covers generateName, dryRun, optimistic concurrency,
// immutable metadata, status subresources, finalizers and deletecollection.
func TestWriteSemantics(t *testing.T) {
	s := startServer(t)
	const cms = "/api/v1/namespaces/default/configmaps"

	gen := s.create(t, cms, `{"metadata":{"generateName":"gen-"}}`)
	var obj struct {
		Metadata struct {
			Name, UID, ResourceVersion, CreationTimestamp, Namespace string
			DeletionTimestamp                                        *string
			Finalizers                                               []string
		}
		Status struct{ Phase string }
	}
	json.Unmarshal([]byte(gen), &obj)
	if !strings.HasPrefix(obj.Metadata.Name, "gen-") || len(obj.Metadata.Name) != 9 || obj.Metadata.UID == "" || obj.Metadata.CreationTimestamp == "" || obj.Metadata.ResourceVersion == "" {
		t.Errorf("generateName create: %s", gen)
	}

	code, body := s.do("POST", cms+"?dryRun=All", "application/json", strings.NewReader(`{"metadata":{"name":"dry"}}`))
	if code != 201 {
		t.Errorf("dry run create: %d %s", code, body)
	}
	if code, _ := s.do("GET", cms+"/dry", "", nil); code != 404 {
		t.Errorf("dry run stored the object")
	}

	v1 := s.create(t, cms, `{"metadata":{"name":"cas"},"data":{"a":"1"}}`)
	rv := rvOf(t, v1)
	update := func(body string) (int, string) {
		return s.do("PUT", cms+"/cas", "application/json", strings.NewReader(body))
	}
	if code, body := update(fmt.Sprintf(`{"metadata":{"name":"cas","resourceVersion":"%d"},"data":{"a":"2"}}`, rv)); code != 200 || rvOf(t, body) <= rv {
		t.Fatalf("update with the current rv: %d %s", code, body)
	}
	if code, _ := update(fmt.Sprintf(`{"metadata":{"name":"cas","resourceVersion":"%d"},"data":{"a":"3"}}`, rv)); code != 409 {
		t.Errorf("update with a stale rv: %d", code)
	}
	if code, body := update(`{"metadata":{"name":"cas","uid":"another-uid"},"data":{"a":"3"}}`); code != 422 || !strings.Contains(body, "metadata.uid") {
		t.Errorf("changing uid: %d %s", code, body)
	}
	if code, body := update(`{"metadata":{"name":"cas","creationTimestamp":"2001-01-01T00:00:00Z"},"data":{"a":"3"}}`); code != 422 || !strings.Contains(body, "metadata.creationTimestamp") {
		t.Errorf("changing creationTimestamp: %d %s", code, body)
	}
	if code, body := s.do("PUT", cms+"/cas", "application/json", strings.NewReader(`{"metadata":{"name":"cas","namespace":"kube-system"}}`)); code != 400 {
		t.Errorf("changing namespace: %d %s", code, body)
	}
	if code, body := s.do("PATCH", cms+"/cas", "application/merge-patch+json", strings.NewReader(`{"metadata":{"name":"renamed"}}`)); code != 400 {
		t.Errorf("patching the name: %d %s", code, body)
	}
	if code, _ := s.do("PATCH", cms+"/ghost", "application/merge-patch+json", strings.NewReader(`{}`)); code != 404 {
		t.Errorf("patching a missing object: %d", code)
	}
	// A no-op update keeps the resourceVersion.
	_, cur := s.do("GET", cms+"/cas", "", nil)
	_, same := s.do("PATCH", cms+"/cas", "application/merge-patch+json", strings.NewReader(`{"data":{"a":"2"}}`))
	if rvOf(t, same) != rvOf(t, cur) {
		t.Errorf("a no-op patch changed the rv")
	}

	// Status subresource: spec writes keep status, status writes keep spec.
	s.create(t, "/api/v1/namespaces/default/pods", `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx:1.27"}]}}`)
	code, body = s.do("PATCH", "/api/v1/namespaces/default/pods/p/status", "application/merge-patch+json",
		strings.NewReader(`{"status":{"phase":"Running"},"spec":{"activeDeadlineSeconds":5}}`))
	if code != 200 || !strings.Contains(body, `"phase":"Running"`) || strings.Contains(body, "activeDeadlineSeconds") {
		t.Errorf("status patch: %d %s", code, body)
	}
	code, body = s.do("PATCH", "/api/v1/namespaces/default/pods/p", "application/merge-patch+json",
		strings.NewReader(`{"status":{"phase":"Failed"},"spec":{"activeDeadlineSeconds":60}}`))
	if code != 200 || !strings.Contains(body, `"phase":"Running"`) || !strings.Contains(body, `"activeDeadlineSeconds":60`) {
		t.Errorf("main-resource patch: %d %s", code, body)
	}
	code, body = s.do("PATCH", "/api/v1/namespaces/default/pods/p", "application/merge-patch+json",
		strings.NewReader(`{"spec":{"restartPolicy":"Never"}}`))
	if code != 422 || !strings.Contains(body, "pod updates may not change fields") {
		t.Errorf("changing an immutable pod field: %d %s", code, body)
	}

	// Finalizers hold an object after DELETE until they are removed.
	s.create(t, cms, `{"metadata":{"name":"held","finalizers":["example.com/hold"]}}`)
	code, body = s.do("DELETE", cms+"/held", "", nil)
	json.Unmarshal([]byte(body), &obj)
	if code != 200 || obj.Metadata.DeletionTimestamp == nil {
		t.Fatalf("delete with a finalizer: %d %s", code, body)
	}
	if code, _ := s.do("GET", cms+"/held", "", nil); code != 200 {
		t.Fatalf("held object is gone")
	}
	code, body = s.do("PATCH", cms+"/held", "application/merge-patch+json", strings.NewReader(`{"metadata":{"finalizers":null}}`))
	if code != 200 {
		t.Fatalf("removing the finalizer: %d %s", code, body)
	}
	if code, _ := s.do("GET", cms+"/held", "", nil); code != 404 {
		t.Errorf("object survived the removal of its last finalizer")
	}

	// DELETE returns a Status for most types, the object for pods.
	code, body = s.do("DELETE", cms+"/cas", "", nil)
	if code != 200 || !strings.Contains(body, `"status":"Success"`) || !strings.Contains(body, `"kind":"configmaps"`) {
		t.Errorf("delete configmap: %d %s", code, body)
	}
	code, body = s.do("DELETE", "/api/v1/namespaces/default/pods/p", "", nil)
	if code != 200 || !strings.Contains(body, `"kind":"Pod"`) {
		t.Errorf("delete pod: %d %s", code, body)
	}

	// deletecollection with a selector.
	for i := range 4 {
		s.create(t, cms, fmt.Sprintf(`{"metadata":{"name":"bulk-%d","labels":{"bulk":"%v"}}}`, i, i < 3))
	}
	code, body = s.do("DELETE", cms+"?labelSelector=bulk%3Dtrue", "", nil)
	if code != 200 || strings.Count(body, `"name":"bulk-`) != 3 {
		t.Errorf("deletecollection: %d %s", code, body)
	}
	_, rest, _ := s.list(t, cms+"?labelSelector=bulk")
	if len(rest.Items) != 1 || rest.Items[0].Metadata.Name != "bulk-3" {
		t.Errorf("after deletecollection: %+v", rest.Items)
	}
}

// TestWatchSemantics covers resuming, bookmarks, timeouts, initial events,
// selectors entering and leaving, and the clean end of watches on shutdown.
func TestWatchSemantics(t *testing.T) {
	s := startServer(t, withoutRootCAConfigMaps)
	const cms = "/api/v1/namespaces/default/configmaps"
	openWatch := func(query string) (*http.Response, <-chan string) {
		t.Helper()
		resp, err := s.client(true).Get(s.url(cms + "?watch=true&" + query))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			data, _ := io.ReadAll(resp.Body)
			t.Fatalf("watch %s: %d %s", query, resp.StatusCode, data)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp, lines(resp.Body)
	}
	type event struct {
		Type   string
		Object struct {
			Metadata struct {
				Name, ResourceVersion string
				Annotations           map[string]string
			}
		}
	}
	next := func(ch <-chan string) event {
		t.Helper()
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatal("watch ended")
			}
			var e event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			return e
		case <-time.After(15 * time.Second):
			t.Fatal("no event within 15s")
		}
		return event{}
	}

	a := s.create(t, cms, `{"metadata":{"name":"a"}}`)
	// Without a resourceVersion the current state comes first, as ADDED.
	_, all := openWatch("")
	if e := next(all); e.Type != "ADDED" || e.Object.Metadata.Name != "a" {
		t.Errorf("initial event: %+v", e)
	}
	// From a resourceVersion, only later changes.
	_, from := openWatch(fmt.Sprintf("resourceVersion=%d", rvOf(t, a)))
	_, sel := openWatch("labelSelector=watched%3Dyes")
	s.create(t, cms, `{"metadata":{"name":"b"}}`)
	if e := next(from); e.Type != "ADDED" || e.Object.Metadata.Name != "b" {
		t.Errorf("resumed watch: %+v", e)
	}
	if e := next(all); e.Type != "ADDED" || e.Object.Metadata.Name != "b" {
		t.Errorf("live event: %+v", e)
	}
	// A label change moves b into, then out of, the selected set.
	s.do("PATCH", cms+"/b", "application/merge-patch+json", strings.NewReader(`{"metadata":{"labels":{"watched":"yes"}}}`))
	s.do("PATCH", cms+"/b", "application/merge-patch+json", strings.NewReader(`{"metadata":{"labels":{"watched":"no"}}}`))
	if e := next(sel); e.Type != "ADDED" || e.Object.Metadata.Name != "b" {
		t.Errorf("entering the selector: %+v", e)
	}
	if e := next(sel); e.Type != "DELETED" || e.Object.Metadata.Name != "b" {
		t.Errorf("leaving the selector: %+v", e)
	}
	for _, want := range []string{"MODIFIED", "MODIFIED"} {
		if e := next(from); e.Type != want {
			t.Errorf("want %s, got %+v", want, e)
		}
	}
	s.do("DELETE", cms+"/b", "", nil)
	if e := next(from); e.Type != "DELETED" || e.Object.Metadata.Name != "b" {
		t.Errorf("deletion: %+v", e)
	}

	// sendInitialEvents ends the initial state with an annotated bookmark.
	_, initial := openWatch("sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	if e := next(initial); e.Type != "ADDED" || e.Object.Metadata.Name != "a" {
		t.Errorf("initial event: %+v", e)
	}
	if e := next(initial); e.Type != "BOOKMARK" || e.Object.Metadata.Annotations["k8s.io/initial-events-end"] != "true" {
		t.Errorf("initial-events-end bookmark: %+v", e)
	}

	// Bookmarks come only when allowed, at the latest before the timeout.
	_, now, _ := s.list(t, cms)
	_, marked := openWatch("allowWatchBookmarks=true&timeoutSeconds=4&resourceVersion=" + now.Metadata.ResourceVersion)
	e := next(marked)
	if e.Type != "BOOKMARK" || e.Object.Metadata.ResourceVersion == "" {
		t.Errorf("want a bookmark before the timeout, got %+v", e)
	}
	_, unmarked := openWatch("timeoutSeconds=4&resourceVersion=" + now.Metadata.ResourceVersion)
	for l := range unmarked {
		if strings.Contains(l, "BOOKMARK") {
			t.Errorf("bookmark sent without allowWatchBookmarks: %s", l)
		}
	}

	// timeoutSeconds ends the stream cleanly.
	start := time.Now()
	resp, ch := openWatch("timeoutSeconds=1")
	for range ch {
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("timeoutSeconds=1 ended after %s", d)
	}
	_ = resp

	// Shutdown ends watches cleanly: the client sees EOF, not an error.
	_, closing := openWatch("resourceVersion=0")
	next(closing)
	s.cmd.Process.Signal(syscall.SIGINT)
	ended := make(chan struct{})
	go func() {
		for range closing {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("watch still open 15s after SIGINT")
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("server exit after SIGINT: %v\n%s", err, s.logs.String())
	}
	s.stopped = true
}
