package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

type status struct {
	Kind, APIVersion, Status, Message, Reason string
	Code                                      int
	Details                                   *struct {
		Name, Kind string
		Causes     []struct{ Reason, Message, Field string }
	}
}

func parseStatus(t *testing.T, body string) status {
	t.Helper()
	var s status
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("not a Status body: %v\n%s", err, body)
	}
	if s.Kind != "Status" || s.APIVersion != "v1" {
		t.Fatalf("not a Status: %s", body)
	}
	return s
}

// TestBadInput sends every kind of malformed request and checks the
// status, the Status body, and that nothing was stored.
func TestBadInput(t *testing.T) {
	s := startServer(t, withoutRootCAConfigMaps)
	const cms = "/api/v1/namespaces/default/configmaps"
	code, body := s.do("POST", cms, "application/json", strings.NewReader(`{"metadata":{"name":"existing"},"data":{"a":"b"}}`))
	if code != 201 {
		t.Fatalf("seed create: %d %s", code, body)
	}
	existing := parseStatusOrObject(t, body)

	cases := []struct {
		name, method, path, ct, body string
		code                         int
		reason, msg                  string
	}{
		{"malformed JSON", "POST", cms, "application/json", `{"metadata":`, 400, "BadRequest", "cannot be handled as a ConfigMap"},
		{"malformed YAML", "POST", cms, "application/yaml", "metadata: [unclosed", 400, "BadRequest", "not valid YAML"},
		{"unknown field, strict", "POST", cms + "?fieldValidation=Strict", "application/json", `{"metadata":{"name":"u1"},"spec":{"x":1}}`, 400, "BadRequest", `strict decoding error: unknown field "spec"`},
		{"nested unknown field, strict", "POST", cms + "?fieldValidation=Strict", "application/json", `{"metadata":{"name":"u2","bogus":1}}`, 400, "BadRequest", `unknown field "metadata.bogus"`},
		{"invalid name", "POST", cms, "application/json", `{"metadata":{"name":"Bad_Name"}}`, 422, "Invalid", `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"`},
		{"invalid field", "POST", cms, "application/json", `{"metadata":{"name":"badkey"},"data":{"no/slash":"x"}}`, 422, "Invalid", `data[no/slash]: Invalid value`},
		{"stale resourceVersion", "PUT", cms + "/existing", "application/json", `{"metadata":{"name":"existing","resourceVersion":"1"},"data":{"a":"c"}}`, 409, "Conflict", "the object has been modified"},
		{"existing name", "POST", cms, "application/json", `{"metadata":{"name":"existing"}}`, 409, "AlreadyExists", `configmaps "existing" already exists`},
		{"missing object", "GET", cms + "/nope", "", "", 404, "NotFound", `configmaps "nope" not found`},
		{"missing namespace", "POST", "/api/v1/namespaces/ghost/configmaps", "application/json", `{"metadata":{"name":"x"}}`, 404, "NotFound", `namespaces "ghost" not found`},
		{"namespace mismatch", "POST", cms, "application/json", `{"metadata":{"name":"x","namespace":"kube-system"}}`, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"},
		{"kind mismatch", "POST", cms, "application/json", `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}`, 400, "BadRequest", "does not match"},
		{"unknown resource", "GET", "/api/v1/widgets", "", "", 404, "NotFound", "the server could not find the requested resource"},
		{"CBOR-only Accept", "GET", cms, "", "", 0, "", ""},
		{"unsupported patch type", "PATCH", cms + "/existing", "application/xml-patch+xml", `{}`, 415, "UnsupportedMediaType", "application/apply-patch+yaml"},
		{"bad field selector", "GET", cms + "?fieldSelector=spec.foo=bar", "", "", 400, "BadRequest", `"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"`},
		{"bad label selector", "GET", cms + "?labelSelector=a%20in%20(", "", "", 400, "BadRequest", "unable to parse requirement"},
		{"bad dryRun", "POST", cms + "?dryRun=Maybe", "application/json", `{"metadata":{"name":"dr"}}`, 400, "BadRequest", "Invalid dryRun value"},
		{"bad propagationPolicy", "DELETE", cms + "/existing?propagationPolicy=Sideways", "", "", 422, "Invalid", "propagationPolicy"},
		{"delete precondition", "DELETE", cms + "/existing", "application/json", `{"preconditions":{"uid":"not-the-uid"}}`, 409, "Conflict", "Precondition failed: UID in precondition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.code == 0 {
				req := mustRequest(t, "GET", s.url(cms), nil)
				req.Header.Set("Accept", "application/cbor")
				resp, err := s.client(true).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 406 || parseStatus(t, string(data)).Reason != "NotAcceptable" {
					t.Fatalf("CBOR-only Accept: %d %s", resp.StatusCode, data)
				}
				return
			}
			var rd io.Reader
			if c.body != "" {
				rd = strings.NewReader(c.body)
			}
			code, body := s.do(c.method, c.path, c.ct, rd)
			st := parseStatus(t, body)
			if code != c.code || st.Code != c.code || st.Reason != c.reason || !strings.Contains(st.Message, c.msg) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", code, st.Reason, st.Message, c.code, c.reason, c.msg)
			}
			if c.code == 422 && c.method == "POST" && (st.Details == nil || len(st.Details.Causes) == 0) {
				t.Errorf("422 without details.causes: %s", body)
			}
		})
	}

	// Nothing was stored by any of them.
	code, body = s.do("GET", cms, "", nil)
	var list struct {
		Items []struct {
			Metadata struct{ Name, ResourceVersion string }
		}
	}
	json.Unmarshal([]byte(body), &list)
	if code != 200 || len(list.Items) != 1 || list.Items[0].Metadata.Name != "existing" || list.Items[0].Metadata.ResourceVersion != existing {
		t.Errorf("bad requests changed the store: %s", body)
	}

	t.Run("warn on unknown field", func(t *testing.T) {
		req := mustRequest(t, "POST", s.url(cms), strings.NewReader(`{"metadata":{"name":"warned"},"extra":1}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client(true).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 || !strings.Contains(resp.Header.Get("Warning"), `unknown field \"extra\"`) {
			t.Errorf("Warn directive: %d, Warning %q", resp.StatusCode, resp.Header.Get("Warning"))
		}
	})

	t.Run("body over 3 MiB", func(t *testing.T) {
		big := `{"metadata":{"name":"big"},"data":{"a":"` + strings.Repeat("x", 3<<20) + `"}}`
		code, body := s.do("POST", cms, "application/json", strings.NewReader(big))
		if code != 413 || parseStatus(t, body).Reason != "RequestEntityTooLarge" {
			t.Errorf("3 MiB body: %d %s", code, body)
		}
	})

	t.Run("YAML alias bomb", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
		prev := "a"
		for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
			fmt.Fprintf(&b, "%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", n, n, prev, prev, prev, prev, prev, prev, prev, prev, prev)
			prev = n
		}
		start := time.Now()
		code, body := s.do("POST", cms, "application/yaml", strings.NewReader(b.String()))
		t.Logf("alias bomb: %d in %s: %.120s", code, time.Since(start), body)
		if code < 400 || code >= 500 || time.Since(start) > 5*time.Second {
			t.Errorf("alias bomb: %d after %s: %.200s", code, time.Since(start), body)
		}
	})

	t.Run("JSON patch over 10000 operations", func(t *testing.T) {
		ops := make([]string, 10001)
		for i := range ops {
			ops[i] = `{"op":"add","path":"/metadata/labels/x","value":"y"}`
		}
		code, body := s.do("PATCH", cms+"/existing", "application/json-patch+json", strings.NewReader("["+strings.Join(ops, ",")+"]"))
		st := parseStatus(t, body)
		if code != 413 || !strings.Contains(st.Message, "The allowed maximum operations in a JSON patch is 10000, got 10001") {
			t.Errorf("large JSON patch: %d %s", code, st.Message)
		}
	})

	// Nor did the large body, the alias bomb or the large patch: besides the
	// object the Warn subtest created, the list is what it was.
	code, body = s.do("GET", cms, "", nil)
	var after struct {
		Items []struct {
			Metadata struct {
				Name, ResourceVersion string
				Labels                map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &after); code != 200 || err != nil {
		t.Fatalf("list after the large inputs: %d %v %.300s", code, err, body)
	}
	var others []string
	seen := false
	for _, it := range after.Items {
		switch it.Metadata.Name {
		case "warned":
		case "existing":
			seen = true
			if it.Metadata.ResourceVersion != existing || len(it.Metadata.Labels) != 0 {
				t.Errorf("the large inputs changed the existing object: resourceVersion %s (was %s), labels %v",
					it.Metadata.ResourceVersion, existing, it.Metadata.Labels)
			}
		default:
			others = append(others, it.Metadata.Name)
		}
	}
	if len(others) != 0 || !seen {
		t.Errorf("after the large inputs: the existing object is there: %v; other objects: %v", seen, others)
	}

	t.Run("oversized headers", func(t *testing.T) {
		req := mustRequest(t, "GET", s.url(cms), nil)
		req.Header.Set("X-Big", strings.Repeat("h", 2<<20))
		c := s.client(true)
		c.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		tr := c.Transport.(*httpTransport)
		tr.ForceAttemptHTTP2 = false
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 431 {
			t.Errorf("2 MiB of headers: %d, want 431", resp.StatusCode)
		}
	})

	t.Run("slow headers are cut off", func(t *testing.T) {
		t.Parallel()
		pool := s.caPool(t)
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "GET /readyz HTTP/1.1\r\nHost: x\r\n") // and never finish
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err = io.ReadAll(conn)
		elapsed := time.Since(start)
		var ne net.Error
		if asNetErr(err, &ne) && ne.Timeout() {
			t.Fatalf("connection still open after 30s")
		}
		if elapsed > 20*time.Second {
			t.Errorf("slow client held the connection for %s", elapsed)
		}
	})
}

func parseStatusOrObject(t *testing.T, body string) string {
	t.Helper()
	var obj struct {
		Metadata struct{ ResourceVersion string }
	}
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Metadata.ResourceVersion
}
