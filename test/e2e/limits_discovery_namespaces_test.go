package e2e

// Aggregated discovery, the in-flight limits and the request timeout,
// fieldValidation=Ignore, and the namespace lifecycle (terminating and
// system namespaces).

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullStatus is a Status body with the details the limits and lifecycle
// tests look at.
type fullStatus struct {
	Kind, APIVersion, Status, Message, Reason string
	Code                                      int
	Details                                   struct {
		Name, Kind        string
		RetryAfterSeconds int
		Causes            []struct{ Reason, Message, Field string } // Reason is StatusCause.Type
	}
}

func parseFullStatus(t *testing.T, body string) fullStatus {
	t.Helper()
	parseStatus(t, body) // kind Status, apiVersion v1
	var st fullStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// doHeaders sends a request as super-admin with extra headers and returns
// the response (its body already read) and the body.
func (s *server) doHeaders(method, path, contentType, body string, header map[string]string) (*http.Response, string) {
	s.t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return s.send(s.t, s.client(true), method, path, contentType, body, h)
}

// tlsConfig trusts the cluster CA and presents the super-admin certificate.
func (s *server) tlsConfig(t *testing.T, nextProtos ...string) *tls.Config {
	t.Helper()
	return s.tlsConfigAs(t, "super-admin", nextProtos...)
}

// tlsConfigAs trusts the cluster CA and presents the certificate of
// DIR/<who>.conf.
func (s *server) tlsConfigAs(t *testing.T, who string, nextProtos ...string) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: s.caPool(t), MinVersion: tls.VersionTLS12, NextProtos: nextProtos,
		Certificates: []tls.Certificate{s.clientCert(who)}}
}

// discoveryList is apidiscovery.k8s.io/v2 APIGroupDiscoveryList.
type discoveryList struct {
	Kind, APIVersion string
	Items            []struct {
		Metadata struct{ Name string }
		Versions []struct {
			Version   string
			Freshness string
			Resources []discoveryResource
		}
	}
}

type discoveryResource struct {
	Resource         string
	SingularResource string
	Scope            string
	ResponseKind     struct{ Group, Version, Kind string }
	Verbs            []string
	ShortNames       []string
	Subresources     []struct {
		Subresource  string
		Verbs        []string
		ResponseKind struct{ Group, Version, Kind string }
	}
}

// legacyResources is a v1 APIResourceList.
type legacyResources struct {
	Kind, GroupVersion string
	Resources          []struct {
		Name, SingularName, Kind string
		Namespaced               bool
		Verbs                    []string
	} `json:"resources"`
}

const aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// TestAggregatedDiscovery asks /api and /apis for apidiscovery.k8s.io/v2
// and checks the documents against the per-group-version discovery.
func TestAggregatedDiscovery(t *testing.T) {
	s := startServer(t)

	fetch := func(path, accept string) (*http.Response, string) {
		t.Helper()
		resp, body := s.doHeaders("GET", path, "", "", map[string]string{"Accept": accept})
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s (Accept %s): %d %s", path, accept, resp.StatusCode, body)
		}
		return resp, body
	}
	aggregated := func(path, accept string) (discoveryList, string) {
		t.Helper()
		resp, body := fetch(path, accept)
		base, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || base != "application/json" || params["g"] != "apidiscovery.k8s.io" || params["v"] != "v2" || params["as"] != "APIGroupDiscoveryList" {
			t.Fatalf("GET %s: Content-Type %q, want %s", path, resp.Header.Get("Content-Type"), aggregatedAccept)
		}
		if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
			t.Errorf("GET %s: the answer depends on Accept but Vary is %q", path, resp.Header.Get("Vary"))
		}
		var d discoveryList
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatalf("GET %s: %v\n%.300s", path, err, body)
		}
		if d.Kind != "APIGroupDiscoveryList" || d.APIVersion != "apidiscovery.k8s.io/v2" {
			t.Fatalf("GET %s: kind %q apiVersion %q", path, d.Kind, d.APIVersion)
		}
		return d, resp.Header.Get("ETag")
	}

	// /api: one unnamed group, the core group, at v1.
	core, coreETag := aggregated("/api", aggregatedAccept)
	if len(core.Items) != 1 || core.Items[0].Metadata.Name != "" || len(core.Items[0].Versions) != 1 ||
		core.Items[0].Versions[0].Version != "v1" || core.Items[0].Versions[0].Freshness != "Current" {
		t.Fatalf("/api: want the core group at v1 only: %+v", core.Items)
	}
	coreRes := map[string]discoveryResource{}
	for _, r := range core.Items[0].Versions[0].Resources {
		coreRes[r.Resource] = r
	}
	allVerbs := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	cm, ok := coreRes["configmaps"]
	if !ok {
		t.Fatalf("/api: no configmaps among %v", mapsKeys(coreRes))
	}
	if cm.Scope != "Namespaced" || cm.SingularResource != "configmap" || cm.ResponseKind.Kind != "ConfigMap" ||
		cm.ResponseKind.Version != "v1" || cm.ResponseKind.Group != "" || !slices.Contains(cm.ShortNames, "cm") ||
		!sameSet(cm.Verbs, allVerbs) {
		t.Errorf("/api configmaps: %+v", cm)
	}
	if ns := coreRes["namespaces"]; ns.Scope != "Cluster" || ns.ResponseKind.Kind != "Namespace" {
		t.Errorf("/api namespaces: %+v", ns)
	}
	podStatus := false
	for _, sub := range coreRes["pods"].Subresources {
		if sub.Subresource == "status" {
			podStatus = sameSet(sub.Verbs, []string{"get", "patch", "update"}) && sub.ResponseKind.Kind == "Pod"
		}
	}
	if !podStatus {
		t.Errorf("/api pods: no status subresource with get, patch and update: %+v", coreRes["pods"].Subresources)
	}
	compareWithLegacy(t, s, "/api/v1", core.Items[0].Versions[0].Resources)

	// /apis: every named group, each with the resources of /apis/<g>/<v>.
	groups, groupsETag := aggregated("/apis", aggregatedAccept)
	byName := map[string]int{}
	for i, g := range groups.Items {
		if g.Metadata.Name == "" {
			t.Errorf("/apis lists the core group")
		}
		byName[g.Metadata.Name] = i
	}
	for _, g := range []string{"rbac.authorization.k8s.io", "certificates.k8s.io", "coordination.k8s.io", "networking.k8s.io"} {
		if _, ok := byName[g]; !ok {
			t.Errorf("/apis: no group %s", g)
		}
	}
	var legacyGroups struct {
		Kind   string
		Groups []struct {
			Name             string
			PreferredVersion struct{ GroupVersion, Version string }
		}
	}
	_, body := fetch("/apis", "application/json")
	if err := json.Unmarshal([]byte(body), &legacyGroups); err != nil || legacyGroups.Kind != "APIGroupList" {
		t.Fatalf("/apis without the discovery Accept: %v %.300s", err, body)
	}
	if len(legacyGroups.Groups) != len(groups.Items) {
		t.Errorf("/apis: %d groups in APIGroupList, %d in APIGroupDiscoveryList", len(legacyGroups.Groups), len(groups.Items))
	}
	for _, lg := range legacyGroups.Groups {
		i, ok := byName[lg.Name]
		if !ok {
			t.Errorf("group %s is in APIGroupList but not in APIGroupDiscoveryList", lg.Name)
			continue
		}
		g := groups.Items[i]
		if len(g.Versions) == 0 || g.Versions[0].Version != lg.PreferredVersion.Version {
			t.Errorf("group %s: preferred version %s, aggregated versions %+v", lg.Name, lg.PreferredVersion.Version, g.Versions)
			continue
		}
		compareWithLegacy(t, s, "/apis/"+lg.PreferredVersion.GroupVersion, g.Versions[0].Resources)
	}
	var rbacRoles discoveryResource
	for _, r := range groups.Items[byName["rbac.authorization.k8s.io"]].Versions[0].Resources {
		if r.Resource == "clusterroles" {
			rbacRoles = r
		}
	}
	if rbacRoles.Scope != "Cluster" || rbacRoles.ResponseKind.Group != "rbac.authorization.k8s.io" || rbacRoles.ResponseKind.Kind != "ClusterRole" {
		t.Errorf("/apis clusterroles: %+v", rbacRoles)
	}

	// The Accept list client-go sends (v2, then v2beta1, then plain JSON)
	// gets v2.
	aggregated("/api", aggregatedAccept+",application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")

	// Caching: the ETag names the document, and a matching If-None-Match
	// gets 304.
	if coreETag == "" || groupsETag == "" || coreETag == groupsETag {
		t.Errorf("ETags: /api %q, /apis %q", coreETag, groupsETag)
	}
	resp, _ := s.doHeaders("GET", "/api", "", "", map[string]string{"Accept": aggregatedAccept, "If-None-Match": coreETag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", resp.StatusCode)
	}

	// Without the discovery Accept, /api is the legacy APIVersions.
	resp, body = fetch("/api", "application/json")
	var versions struct {
		Kind     string
		Versions []string
	}
	json.Unmarshal([]byte(body), &versions)
	if resp.Header.Get("Content-Type") != "application/json" || versions.Kind != "APIVersions" || !slices.Equal(versions.Versions, []string{"v1"}) {
		t.Errorf("/api without the discovery Accept: %s %s", resp.Header.Get("Content-Type"), body)
	}
}

// compareWithLegacy checks that the aggregated resources of one group
// version are those of its APIResourceList, with the same kinds, scopes,
// verbs and subresources.
func compareWithLegacy(t *testing.T, s *server, path string, agg []discoveryResource) {
	t.Helper()
	code, body := s.do("GET", path, "", nil)
	var legacy legacyResources
	if code != 200 || json.Unmarshal([]byte(body), &legacy) != nil || legacy.Kind != "APIResourceList" {
		t.Fatalf("GET %s: %d %.300s", path, code, body)
	}
	want := map[string]string{}
	for _, r := range legacy.Resources {
		scope := "Cluster"
		if r.Namespaced {
			scope = "Namespaced"
		}
		verbs := slices.Clone(r.Verbs)
		slices.Sort(verbs)
		want[r.Name] = fmt.Sprintf("kind=%s scope=%s verbs=%v", r.Kind, scope, verbs)
	}
	got := map[string]string{}
	for _, r := range agg {
		verbs := slices.Clone(r.Verbs)
		slices.Sort(verbs)
		got[r.Resource] = fmt.Sprintf("kind=%s scope=%s verbs=%v", r.ResponseKind.Kind, r.Scope, verbs)
		for _, sub := range r.Subresources {
			verbs := slices.Clone(sub.Verbs)
			slices.Sort(verbs)
			got[r.Resource+"/"+sub.Subresource] = fmt.Sprintf("kind=%s scope=%s verbs=%v", sub.ResponseKind.Kind, r.Scope, verbs)
		}
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s %s: aggregated %q, APIResourceList %q", path, name, got[name], w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s is in the aggregated discovery only", path, name)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func mapsKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// heldRead is a GET whose response the client does not read: the server's
// handler is stuck writing it, so the request stays in flight until
// release.
type heldRead struct {
	resp *http.Response
	tr   *http.Transport
}

// holdRead GETs path as who over HTTP/2 with a 16 KiB flow-control window
// and returns once the response headers arrived, that is once the handler
// is running. path must answer with far more than 16 KiB.
func (s *server) holdRead(t *testing.T, who, path string) *heldRead {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: s.tlsConfigAs(t, who), ForceAttemptHTTP2: true, DisableCompression: true,
		HTTP2: &http.HTTP2Config{MaxReceiveBufferPerStream: 16 << 10}}
	resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get(s.url(path))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("holding GET %s: %s %d %.300s", path, resp.Proto, resp.StatusCode, data)
	}
	return &heldRead{resp: resp, tr: tr}
}

// release resets the stream, which ends the handler.
func (h *heldRead) release() {
	h.resp.Body.Close()
	h.tr.CloseIdleConnections()
}

// slowBody is a request whose body the client has only begun to send.
type slowBody struct {
	pw   *io.PipeWriter
	done chan slowResult
}

type slowResult struct {
	code int
	body string
	err  error
}

// startSlowBody sends method path as who over HTTP/1.1 with Expect:
// 100-continue and the start of a body, and returns once the server has
// asked for the body: by then the request is inside the handler (the
// in-flight slot is taken and the request's deadline is running).
func (s *server) startSlowBody(t *testing.T, who, method, path, head string) *slowBody {
	t.Helper()
	pr, pw := io.Pipe()
	req := mustRequest(t, method, s.url(path), pr)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	// With ExpectContinueTimeout set, the transport reads the body only
	// after the server's 100 Continue, which Go's server sends when the
	// handler first reads the body.
	tr := &http.Transport{TLSClientConfig: s.tlsConfigAs(t, who, "http/1.1"), ExpectContinueTimeout: 5 * time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	sb := &slowBody{pw: pw, done: make(chan slowResult, 1)}
	go func() {
		resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			sb.done <- slowResult{err: err}
			return
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		sb.done <- slowResult{code: resp.StatusCode, body: string(data), err: err}
	}()
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(pw, head)
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err == nil {
			return sb
		}
		r := <-sb.done
		t.Fatalf("%s %s answered before reading the body: %d %s %v", method, path, r.code, r.body, r.err)
	case r := <-sb.done:
		t.Fatalf("%s %s answered before reading the body: %d %s %v", method, path, r.code, r.body, r.err)
	case <-time.After(time.Minute):
		t.Fatalf("%s %s: the server never asked for the body", method, path)
	}
	return nil
}

// finish sends the rest of the body and returns the answer.
func (sb *slowBody) finish(t *testing.T, rest string) (int, string) {
	t.Helper()
	go func() {
		io.WriteString(sb.pw, rest)
		sb.pw.Close()
	}()
	select {
	case r := <-sb.done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.code, r.body
	case <-time.After(time.Minute):
		t.Fatal("no answer a minute after the body was complete")
	}
	return 0, ""
}

// checkTooMany checks a 429 answer: Retry-After and Kubernetes' Status.
func checkTooMany(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s over the limit: %d %s, want 429", what, resp.StatusCode, body)
	}
	st := parseFullStatus(t, body)
	if st.Code != 429 || st.Reason != "TooManyRequests" || st.Status != "Failure" ||
		st.Message != "Too many requests, please try again later." || st.Details.RetryAfterSeconds != 1 {
		t.Errorf("%s over the limit: Status %s", what, body)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("%s over the limit: Retry-After %q, want 1", what, got)
	}
}

// waitUntil polls cond every 20 ms until it holds or 20 s have passed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxRequestsInFlight fills the read-only and the mutating in-flight
// limits with requests held open and checks that the next request gets
// 429 with Retry-After, that watches, health checks and system:masters are
// not counted, and that the slot comes back when the held request ends.
// The limited requests are admin.conf's (kubeadm:cluster-admins), since
// super-admin.conf is in system:masters.
func TestMaxRequestsInFlight(t *testing.T) {
	s := startServer(t, "--max-requests-inflight", "1", "--max-mutating-requests-inflight", "1")
	admin := s.clientWith(true, "admin")
	send := func(method, path, contentType, body string) (*http.Response, string) {
		t.Helper()
		return s.send(t, admin, method, path, contentType, body, nil)
	}
	code := func(method, path, body string) (int, string) {
		t.Helper()
		resp, got := send(method, path, "application/json", body)
		return resp.StatusCode, got
	}
	// system:masters is never refused: a flood cannot lock the
	// administrators out (kube-apiserver exempts the group too).
	checkMasters := func(method, path, body string, want int) {
		t.Helper()
		resp, got := s.send(t, s.client(true), method, path, "application/json", body, nil)
		if resp.StatusCode != want {
			t.Errorf("system:masters %s %s at the limit: %d %s, want %d", method, path, resp.StatusCode, got, want)
		}
	}
	const cms = "/api/v1/namespaces/default/configmaps"
	// 600 KiB of random data: a GET of it cannot fit a 16 KiB window.
	blob := make([]byte, 600<<10)
	rand.Read(blob)
	s.create(t, cms, fmt.Sprintf(`{"metadata":{"name":"big"},"data":{"blob":%q}}`, base64.StdEncoding.EncodeToString(blob)))
	s.create(t, cms, `{"metadata":{"name":"small"}}`)

	t.Run("read-only", func(t *testing.T) {
		// An open watch does not take the one read slot: the held GET
		// below gets it.
		watch, err := admin.Get(s.url(cms + "?watch=1&timeoutSeconds=60"))
		if err != nil {
			t.Fatal(err)
		}
		defer watch.Body.Close()
		if watch.StatusCode != 200 {
			t.Fatalf("watch: %d", watch.StatusCode)
		}
		held := s.holdRead(t, "admin", cms+"/big")
		defer held.release()

		resp, body := send("GET", cms+"/small", "", "")
		checkTooMany(t, "GET", resp, body)
		resp, body = send("GET", "/api/v1/namespaces", "", "")
		checkTooMany(t, "LIST", resp, body)
		checkMasters("GET", cms+"/small", "", 200)
		checkMasters("GET", "/api/v1/namespaces", "", 200)

		// Mutating requests have their own limit.
		if code, body := code("POST", cms, `{"metadata":{"name":"during-read"}}`); code != 201 {
			t.Errorf("POST while reads are at their limit: %d %s", code, body)
		}
		// A request without credentials is refused by authentication, not
		// by the limit: only authenticated requests take a slot.
		if code, body := s.doWith(s.anonClient(), "GET", cms+"/small", "", nil); code != 401 {
			t.Errorf("anonymous GET while reads are at their limit: %d %s", code, body)
		}
		// Health checks and new watches are not limited.
		if code, body := s.doWith(s.anonClient(), "GET", "/readyz", "", nil); code != 200 {
			t.Errorf("/readyz while reads are at their limit: %d %s", code, body)
		}
		c, body := code("GET", cms+"?watch=1&timeoutSeconds=1", "")
		if c != 200 || !strings.Contains(body, `"type":"ADDED"`) {
			t.Errorf("watch while reads are at their limit: %d %.300s", c, body)
		}

		held.release()
		waitUntil(t, "GET succeeds once the held request ended", func() bool {
			c, _ := code("GET", cms+"/small", "")
			return c == 200
		})
	})

	t.Run("mutating", func(t *testing.T) {
		slow := s.startSlowBody(t, "admin", "POST", cms, `{"metadata":{"name":"slow"},`)
		resp, body := send("POST", cms, "application/json", `{"metadata":{"name":"refused"}}`)
		checkTooMany(t, "POST", resp, body)
		resp, body = send("DELETE", cms+"/small", "", "")
		checkTooMany(t, "DELETE", resp, body)
		checkMasters("POST", cms, `{"metadata":{"name":"by-masters"}}`, 201)
		// Reads have their own limit.
		if code, body := code("GET", cms+"/small", ""); code != 200 {
			t.Errorf("GET while writes are at their limit: %d %s", code, body)
		}
		if code, body := slow.finish(t, `"data":{"a":"b"}}`); code != 201 {
			t.Fatalf("the held POST: %d %s", code, body)
		}
		waitUntil(t, "POST succeeds once the held request ended", func() bool {
			c, _ := code("POST", cms, `{"metadata":{"generateName":"after-"}}`)
			return c == 201
		})
		if code, body := code("GET", cms+"/refused", ""); code != 404 {
			t.Errorf("a refused POST was stored: %d %s", code, body)
		}
	})
}

// TestRequestTimeout checks that a request still running when
// --request-timeout has passed gets 504 Timeout and stores nothing, while a
// watch outlives the timeout.
func TestRequestTimeout(t *testing.T) {
	const timeout = time.Second
	s := startServer(t, "--request-timeout", timeout.String())
	const cms = "/api/v1/namespaces/default/configmaps"

	// A watch asking for 2 s is not cut at 1 s.
	watchDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		resp, err := s.client(true).Get(s.url(cms + "?watch=1&timeoutSeconds=2"))
		if err != nil {
			watchDone <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		watchDone <- time.Since(start)
	}()

	for i := range 3 {
		name := fmt.Sprintf("late-%d", i)
		slow := s.startSlowBody(t, "super-admin", "POST", cms, `{"metadata":{"name":"`+name+`"},`)
		// The handler began before the server asked for the body, so its
		// deadline is behind us after this.
		time.Sleep(timeout + 50*time.Millisecond)
		code, body := slow.finish(t, `"data":{"a":"b"}}`)
		if code != http.StatusGatewayTimeout {
			t.Fatalf("POST finished after the request timeout: %d %s, want 504 Timeout", code, body)
		}
		if st := parseFullStatus(t, body); st.Code != 504 || st.Reason != "Timeout" ||
			!strings.Contains(st.Message, "request did not complete within requested timeout") {
			t.Fatalf("POST finished after the request timeout: %d %s, want 504 Timeout", code, body)
		}
		if code, body := s.do("GET", cms+"/"+name, "", nil); code != 404 {
			t.Errorf("a POST that timed out was stored: %d %s", code, body)
		}
	}

	// Reads are bounded too: a ?timeout= that has passed before the read
	// starts ends it with 504.
	for _, path := range []string{cms, cms + "/late-0", "/api/v1/namespaces"} {
		code, body := s.do("GET", path+"?timeout=1ns", "", nil)
		if st := parseFullStatus(t, body); code != http.StatusGatewayTimeout || st.Reason != "Timeout" {
			t.Errorf("GET %s past its deadline: %d %s", path, code, body)
		}
	}

	if d := <-watchDone; d < 2*time.Second-50*time.Millisecond {
		t.Errorf("a watch asking for 2 s ended after %s with --request-timeout %s", d, timeout)
	}
}

// TestFieldValidationIgnore checks that fieldValidation=Ignore drops
// unknown fields silently on create, update and patch, where Warn warns
// and Strict refuses.
func TestFieldValidationIgnore(t *testing.T) {
	s := startServer(t)
	const cms = "/api/v1/namespaces/default/configmaps"
	noWarning := func(what string, resp *http.Response, body string, code int) {
		t.Helper()
		if resp.StatusCode != code {
			t.Fatalf("%s: %d %s, want %d", what, resp.StatusCode, body, code)
		}
		if w := resp.Header.Values("Warning"); len(w) != 0 {
			t.Errorf("%s: Warning %q with fieldValidation=Ignore", what, w)
		}
		if strings.Contains(body, "extra") || strings.Contains(body, "bogus") {
			t.Errorf("%s: the unknown field was kept: %s", what, body)
		}
	}
	stored := func() map[string]any {
		t.Helper()
		code, body := s.do("GET", cms+"/ign", "", nil)
		var obj map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &obj) != nil {
			t.Fatalf("GET: %d %s", code, body)
		}
		if strings.Contains(body, "extra") || strings.Contains(body, "bogus") {
			t.Errorf("an unknown field was stored: %s", body)
		}
		return obj
	}

	resp, body := s.doHeaders("POST", cms+"?fieldValidation=Ignore", "application/json",
		`{"metadata":{"name":"ign","bogus":1},"extra":{"x":1},"data":{"a":"1"}}`, nil)
	noWarning("POST", resp, body, 201)
	obj := stored()
	rv := obj["metadata"].(map[string]any)["resourceVersion"].(string)

	resp, body = s.doHeaders("PUT", cms+"/ign?fieldValidation=Ignore", "application/json",
		`{"metadata":{"name":"ign","resourceVersion":"`+rv+`"},"extra":true,"data":{"a":"2"}}`, nil)
	noWarning("PUT", resp, body, 200)

	resp, body = s.doHeaders("PATCH", cms+"/ign?fieldValidation=Ignore", "application/merge-patch+json",
		`{"extra":"x","data":{"b":"3"}}`, nil)
	noWarning("merge PATCH", resp, body, 200)

	// YAML too; a duplicate field is not an error either: the last wins.
	resp, body = s.doHeaders("POST", cms+"?fieldValidation=Ignore", "application/yaml",
		"metadata:\n  name: dup\nextra: 1\ndata:\n  k: first\n  k: second\n", nil)
	noWarning("POST of YAML with a duplicate field", resp, body, 201)
	if !strings.Contains(body, `"k":"second"`) {
		t.Errorf("duplicate field with Ignore: %s", body)
	}

	if data := stored()["data"]; fmt.Sprint(data) != "map[a:2 b:3]" {
		t.Errorf("after PUT and PATCH with Ignore: data %v", data)
	}

	// The same patch with Warn warns, and with Strict is refused.
	resp, body = s.doHeaders("PATCH", cms+"/ign?fieldValidation=Warn", "application/merge-patch+json", `{"extra":"x"}`, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Warning"), `unknown field \"extra\"`) {
		t.Errorf("PATCH with Warn: %d, Warning %q", resp.StatusCode, resp.Header.Get("Warning"))
	}
	resp, body = s.doHeaders("PATCH", cms+"/ign?fieldValidation=Strict", "application/merge-patch+json", `{"extra":"x"}`, nil)
	if st := parseFullStatus(t, body); resp.StatusCode != 400 || !strings.Contains(st.Message, `unknown field "extra"`) {
		t.Errorf("PATCH with Strict: %d %s", resp.StatusCode, body)
	}
	resp, body = s.doHeaders("POST", cms+"?fieldValidation=Sometimes", "application/json", `{"metadata":{"name":"never"}}`, nil)
	if st := parseFullStatus(t, body); resp.StatusCode != 400 || st.Reason != "BadRequest" || !strings.Contains(st.Message, "fieldValidation") {
		t.Errorf("an unknown fieldValidation value: %d %s", resp.StatusCode, body)
	}
}

type namespaceBody struct {
	Metadata struct {
		Name              string
		DeletionTimestamp *string
		Finalizers        []string
	}
	Spec   struct{ Finalizers []string }
	Status struct{ Phase string }
}

func (s *server) namespace(t *testing.T, name string) (int, namespaceBody) {
	t.Helper()
	code, body := s.do("GET", "/api/v1/namespaces/"+name, "", nil)
	var ns namespaceBody
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &ns); err != nil {
			t.Fatal(err)
		}
	}
	return code, ns
}

// TestSystemNamespaces checks that default, kube-system, kube-public and
// kube-node-lease exist at start and that deleting any of them is refused.
func TestSystemNamespaces(t *testing.T) {
	s := startServer(t)
	system := []string{"default", "kube-system", "kube-public", "kube-node-lease"}
	for _, name := range system {
		if code, ns := s.namespace(t, name); code != 200 || ns.Status.Phase != "Active" {
			t.Errorf("namespace %s at start: %d %+v", name, code, ns)
		}
		for _, q := range []string{"", "?dryRun=All", "?propagationPolicy=Foreground"} {
			code, body := s.do("DELETE", "/api/v1/namespaces/"+name+q, "", nil)
			st := parseFullStatus(t, body)
			if code != 403 || st.Reason != "Forbidden" || st.Message != fmt.Sprintf(`namespaces %q is forbidden: this namespace may not be deleted`, name) {
				t.Errorf("DELETE namespace %s%s: %d %s", name, q, code, body)
			}
		}
	}
	// Nothing was marked for deletion, and the namespaces still take content.
	for _, name := range system {
		if code, ns := s.namespace(t, name); code != 200 || ns.Status.Phase != "Active" || ns.Metadata.DeletionTimestamp != nil {
			t.Errorf("namespace %s after the refused deletes: %d %+v", name, code, ns)
		}
		s.create(t, "/api/v1/namespaces/"+name+"/configmaps", `{"metadata":{"name":"still-here"}}`)
	}

	// Namespaces have no collection delete, as in Kubernetes: refused with
	// 405 before anything is deleted, and not advertised.
	s.create(t, "/api/v1/namespaces", `{"metadata":{"name":"aaa"}}`)
	code, body := s.do("DELETE", "/api/v1/namespaces", "", nil)
	if st := parseFullStatus(t, body); code != 405 || st.Reason != "MethodNotAllowed" {
		t.Errorf("DELETE /api/v1/namespaces: %d %s", code, body)
	}
	if code, ns := s.namespace(t, "aaa"); code != 200 || ns.Metadata.DeletionTimestamp != nil {
		t.Errorf("namespace aaa after the refused collection delete: %d %+v", code, ns)
	}
	_, discovery := s.do("GET", "/api/v1", "", nil)
	var list struct {
		Resources []struct {
			Name  string
			Verbs []string
		}
	}
	if err := json.Unmarshal([]byte(discovery), &list); err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Resources {
		if r.Name == "namespaces" && (slices.Contains(r.Verbs, "deletecollection") || !slices.Contains(r.Verbs, "delete")) {
			t.Errorf("namespaces verbs: %v", r.Verbs)
		}
	}
}

// TestTerminatingNamespace holds a deleted namespace in Terminating with a
// finalizer and checks that new content is refused while existing content
// is deleted, and that the namespace goes once the finalizer is removed.
func TestTerminatingNamespace(t *testing.T) {
	s := startServer(t)
	const ns = "/api/v1/namespaces/doomed"
	s.create(t, "/api/v1/namespaces", `{"metadata":{"name":"doomed","finalizers":["e2e.sekisho.dev/hold"]}}`)
	s.create(t, ns+"/configmaps", `{"metadata":{"name":"before"}}`)
	s.create(t, ns+"/secrets", `{"metadata":{"name":"before"}}`)

	code, body := s.do("DELETE", ns, "", nil)
	if code != 200 && code != 202 {
		t.Fatalf("DELETE namespace: %d %s", code, body)
	}
	if code, got := s.namespace(t, "doomed"); code != 200 || got.Status.Phase != "Terminating" || got.Metadata.DeletionTimestamp == nil {
		t.Fatalf("namespace after DELETE: %d %+v", code, got)
	}

	refused := func(when string) {
		t.Helper()
		for _, c := range []struct{ path, resource, body string }{
			{ns + "/configmaps", "configmaps", `{"metadata":{"name":"after"}}`},
			{ns + "/secrets", "secrets", `{"metadata":{"name":"after"}}`},
			{ns + "/serviceaccounts", "serviceaccounts", `{"metadata":{"name":"after"}}`},
		} {
			code, body := s.do("POST", c.path, "application/json", strings.NewReader(c.body))
			st := parseFullStatus(t, body)
			want := fmt.Sprintf(`%s "after" is forbidden: unable to create new content in namespace doomed because it is being terminated`, c.resource)
			if code != 403 || st.Code != 403 || st.Reason != "Forbidden" || st.Message != want {
				t.Errorf("%s: POST %s: %d %s; want 403 %q", when, c.resource, code, body, want)
			}
			cause := false
			for _, c := range st.Details.Causes {
				cause = cause || c.Reason == "NamespaceTerminating" && c.Field == "metadata.namespace" && c.Message == "namespace doomed is being terminated"
			}
			if !cause {
				t.Errorf("%s: POST %s: no NamespaceTerminating cause: %s", when, c.resource, body)
			}
		}
	}
	refused("terminating")

	// The contents go; the finalizer keeps the namespace Terminating.
	waitUntil(t, "the namespace's contents are deleted", func() bool {
		c1, _ := s.do("GET", ns+"/configmaps/before", "", nil)
		c2, _ := s.do("GET", ns+"/secrets/before", "", nil)
		return c1 == 404 && c2 == 404
	})
	if code, got := s.namespace(t, "doomed"); code != 200 || got.Status.Phase != "Terminating" {
		t.Fatalf("namespace held by a finalizer: %d %+v", code, got)
	}
	refused("emptied but held by a finalizer")

	code, body = s.do("PATCH", ns, "application/merge-patch+json", strings.NewReader(`{"metadata":{"finalizers":null}}`))
	if code != 200 {
		t.Fatalf("removing the finalizer: %d %s", code, body)
	}
	waitUntil(t, "the namespace is gone", func() bool {
		code, _ := s.namespace(t, "doomed")
		return code == 404
	})
	code, body = s.do("POST", ns+"/configmaps", "application/json", strings.NewReader(`{"metadata":{"name":"after"}}`))
	if st := parseFullStatus(t, body); code != 404 || st.Message != `namespaces "doomed" not found` {
		t.Errorf("POST into the deleted namespace: %d %s", code, body)
	}
}
