package apiserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
)

// memoryBackend keeps events.
type memoryBackend struct {
	mu     sync.Mutex
	events []*auditv1.Event
}

func (m *memoryBackend) Process(ev *auditv1.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, ev)
	return nil
}

func (m *memoryBackend) Close() error { return nil }

// TestAuditRecordsAPanic: a handler that panics leaves a Panic event with
// kube-apiserver's message, and the panic goes on to the recovery filter.
func TestAuditRecordsAPanic(t *testing.T) {
	policy, err := audit.ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"))
	if err != nil {
		t.Fatal(err)
	}
	mem := &memoryBackend{}
	s := &Server{cfg: Config{Auditor: audit.NewAuditor(policy, nil, mem)}, log: slog.New(slog.DiscardHandler)}
	panicking := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	asAlice := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(authn.WithUser(r.Context(), &authn.User{Name: "alice"})))
		})
	}
	h := s.withRequestInfo(asAlice(s.withAudit(panicking)))
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("the panic became %v", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil))
	}()
	if len(mem.events) != 2 || mem.events[0].Stage != auditv1.StageRequestReceived || mem.events[1].Stage != auditv1.StagePanic {
		t.Fatalf("events: %+v", mem.events)
	}
	p := mem.events[1]
	if p.ResponseStatus == nil || p.ResponseStatus.Code != 500 || p.ResponseStatus.Message != "APIServer panic'd: boom" ||
		p.User.Username != "alice" || p.Verb != "list" || p.ObjectRef.Resource != "pods" {
		t.Errorf("the Panic event: %+v", p)
	}
}

// TestAuditJudgesARequestByOnePolicy: a policy put in force while a
// request is served does not change how that request is recorded.
func TestAuditJudgesARequestByOnePolicy(t *testing.T) {
	parse := func(level string) *audit.Policy {
		p, err := audit.ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: " + level + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mem := &memoryBackend{}
	auditor := audit.NewAuditor(parse("RequestResponse"), nil, mem)
	s := &Server{cfg: Config{Auditor: auditor}, log: slog.New(slog.DiscardHandler)}
	swapping := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auditor.SetPolicy(parse("None"))
		w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","items":[]}`))
	})
	h := s.withRequestInfo(s.withAudit(swapping))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil))
	if len(mem.events) != 2 || mem.events[1].Stage != auditv1.StageResponseComplete || mem.events[1].Level != auditv1.LevelRequestResponse {
		t.Fatalf("events: %+v", mem.events)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil))
	if len(mem.events) != 2 {
		t.Errorf("the next request was recorded under the new policy (None): %d events", len(mem.events))
	}
}

// BenchmarkAuditedGet is what auditing adds to a request in this
// process: a GET through request info and the audit filter to a handler
// that writes a small object, with the policy at None (nothing recorded)
// and at Metadata (one ResponseComplete line in a log file, in blocking
// mode). `go test ./internal/apiserver -run '^$' -bench AuditedGet -benchmem`
func BenchmarkAuditedGet(b *testing.B) {
	for _, level := range []string{"None", "Metadata"} {
		b.Run(level, func(b *testing.B) {
			policy, err := audit.ParsePolicy([]byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: " + level + "\n"))
			if err != nil {
				b.Fatal(err)
			}
			cfg := audit.DefaultLogConfig()
			cfg.Path = filepath.Join(b.TempDir(), "audit.log")
			l, err := audit.NewLog(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			s := &Server{cfg: Config{Auditor: audit.NewAuditor(policy, nil, l)}, log: slog.New(slog.DiscardHandler)}
			obj := []byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"default"}}`)
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auditAuthorization(r.Context(), true, `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "alice"`)
				w.Header().Set("Content-Type", "application/json")
				w.Write(obj)
			})
			alice := &authn.User{Name: "alice", Groups: []string{"system:authenticated"}}
			asAlice := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r.WithContext(authn.WithUser(r.Context(), alice)))
				})
			}
			h := s.withRequestInfo(asAlice(s.withAudit(handler)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{header: http.Header{}}
				for pb.Next() {
					r := httptest.NewRequest("GET", "/api/v1/namespaces/default/configmaps/c", nil)
					clear(w.header)
					h.ServeHTTP(w, r)
				}
			})
		})
	}
}

type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
