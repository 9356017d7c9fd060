package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/kubeproto"
)

// maxAuditedResponse bounds the response body an event records at level
// RequestResponse. A larger one is left out, and the event is annotated
// audit.k8s.io/truncated, as kube-apiserver's truncating backend does.
const maxAuditedResponse = 4 << 20

// annotationTruncated marks an event whose response was left out.
const annotationTruncated = "audit.k8s.io/truncated"

// auditRecord is one request's audit state: the policy's decision, and
// what the handlers add to the event as the request is served.
type auditRecord struct {
	decision audit.Decision
	target   audit.Target

	mu            sync.Mutex
	event         auditv1.Event // what every stage's event starts from
	requestObject []byte        // JSON, not yet redacted
	// done says the last stage has taken event: what a handler still
	// running adds is too late for it.
	done bool
}

func auditRecordFrom(ctx context.Context) *auditRecord {
	if ri := RequestInfoFrom(ctx); ri != nil {
		return ri.audit
	}
	return nil
}

// audited is a request's audit record and the writer that watches its
// response, allocated together.
type audited struct {
	rec auditRecord
	aw  auditWriter
}

// withAudit records each request by the audit policy in force when it
// arrived: RequestReceived, ResponseStarted (long-running requests),
// ResponseComplete, or Panic. It sits between authentication and
// impersonation, as in kube-apiserver: the event's user is who
// authenticated, and impersonatedUser whom they acted as.
func (s *Server) withAudit(next http.Handler) http.Handler {
	auditor := s.cfg.Auditor
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received := time.Now()
		ri := RequestInfoFrom(r.Context())
		u := authn.UserFrom(r.Context())
		d := auditor.Policy().Decide(auditRequest(u, ri, r))
		if d.Level == auditv1.LevelNone {
			next.ServeHTTP(w, r)
			return
		}
		a := &audited{}
		rec := &a.rec
		fillAuditRecord(rec, r, ri, u, d, received)
		err := auditor.Check()
		if err == nil && !d.Omits(auditv1.StageRequestReceived) {
			err = auditor.Process(rec.stage(auditv1.StageRequestReceived, nil))
		}
		if err != nil {
			// blocking-strict: nothing is served unaudited.
			s.log.Error("audit backend failed; request refused", append(logAttrs(r), "err", err)...)
			writeStatus(w, metav1.Status{Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
				Message: "the audit backend failed; the request was not served"})
			return
		}
		aw := &a.aw
		*aw = auditWriter{ResponseWriter: w, s: s, r: r, rec: rec,
			longRunning: isLongRunning(ri), keepBody: d.Level == auditv1.LevelRequestResponse && !isLongRunning(ri)}
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					status := &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
						Reason: metav1.StatusReasonInternalError, Message: fmt.Sprintf("APIServer panic'd: %v", v)}
					s.processAudit(r, rec.stage(auditv1.StagePanic, status))
				}
				panic(v)
			}
			aw.complete()
		}()
		ri.audit = rec
		next.ServeHTTP(aw, r)
	})
}

func (s *Server) processAudit(r *http.Request, ev *auditv1.Event) {
	if err := s.cfg.Auditor.Process(ev); err != nil {
		s.log.Error("audit backend failed", append(logAttrs(r), "stage", ev.Stage, "err", err)...)
	}
}

// auditRequest is what the policy's rules match.
func auditRequest(u *authn.User, ri *RequestInfo, r *http.Request) audit.Request {
	ar := audit.Request{
		ResourceRequest: ri.IsResourceRequest, Verb: ri.Verb, APIGroup: ri.APIGroup, Namespace: ri.Namespace,
		Resource: ri.Resource, Subresource: ri.Subresource, Name: ri.Name, Path: ri.Path,
	}
	if !ri.IsResourceRequest {
		ar.Verb = nonResourceVerb(r.Method)
	}
	if u != nil {
		ar.User, ar.Groups = u.Name, u.Groups
	}
	return ar
}

func userInfo(u *authn.User) authnv1.UserInfo {
	if u == nil {
		return authnv1.UserInfo{}
	}
	info := authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		info.Extra = make(map[string]authnv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			info.Extra[k] = v
		}
	}
	return info
}

const maxUserAgent = 1024

func newAuditRecord(r *http.Request, ri *RequestInfo, u *authn.User, d audit.Decision, received time.Time) *auditRecord {
	rec := &auditRecord{}
	fillAuditRecord(rec, r, ri, u, d, received)
	return rec
}

func fillAuditRecord(rec *auditRecord, r *http.Request, ri *RequestInfo, u *authn.User, d audit.Decision, received time.Time) {
	ar := auditRequest(u, ri, r)
	rec.decision, rec.target = d, audit.Target{Group: ri.APIGroup, Resource: ri.Resource, Subresource: ri.Subresource}
	ev := &rec.event
	ev.Level = d.Level
	ev.AuditID = types.UID(auditID(r.Context()))
	ev.RequestURI = r.URL.RequestURI()
	ev.Verb = ar.Verb
	ev.User = userInfo(u)
	ev.SourceIPs = sourceIPs(r)
	ev.UserAgent = r.UserAgent()
	if len(ev.UserAgent) > maxUserAgent {
		ev.UserAgent = ev.UserAgent[:maxUserAgent] + "...TRUNCATED"
	}
	if ri.IsResourceRequest {
		ev.ObjectRef = &auditv1.ObjectReference{Resource: ri.Resource, Namespace: ri.Namespace, Name: ri.Name,
			APIGroup: ri.APIGroup, APIVersion: ri.APIVersion, Subresource: ri.Subresource}
	}
	ev.RequestReceivedTimestamp = metav1.NewMicroTime(received)
}

// sourceIPs are the request's source addresses as kube-apiserver records
// them: X-Forwarded-For, X-Real-Ip, then the peer. A request with neither
// header from an IPv4 peer, nearly every one, skips the parsing and
// formatting, which give back the peer's address as written.
func sourceIPs(r *http.Request) []string {
	if r.Header.Get("X-Forwarded-For") == "" && r.Header.Get("X-Real-Ip") == "" {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if addr, err := netip.ParseAddr(host); err == nil && addr.Is4() {
				return []string{host}
			}
		}
	}
	var out []string
	for _, ip := range utilnet.SourceIPs(r) {
		out = append(out, ip.String())
	}
	return out
}

// stage returns the event of one stage: a copy of the record's event as
// it now is, with the response status given. The copy shares what the
// record never changes in place (backends do not keep events past
// Process; see audit.Backend).
func (rec *auditRecord) stage(stage auditv1.Stage, status *metav1.Status) *auditv1.Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ev := rec.event
	if ref := rec.event.ObjectRef; ref != nil {
		copied := *ref
		ev.ObjectRef = &copied
	}
	ev.Stage = stage
	ev.StageTimestamp = metav1.NewMicroTime(time.Now())
	ev.ResponseStatus = status
	return &ev
}

// final returns the event of the last stage: the record's own event,
// which nothing changes after it (done), with the response status given.
func (rec *auditRecord) final(stage auditv1.Stage, status *metav1.Status) *auditv1.Event {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.done = true
	ev := &rec.event
	ev.Stage = stage
	ev.StageTimestamp = metav1.NewMicroTime(time.Now())
	ev.ResponseStatus = status
	return ev
}

// auditImpersonation records whom an impersonating request acts as.
func auditImpersonation(ctx context.Context, as *authn.User) {
	if rec := auditRecordFrom(ctx); rec != nil {
		info := userInfo(as)
		rec.mu.Lock()
		if !rec.done {
			rec.event.ImpersonatedUser = &info
		}
		rec.mu.Unlock()
	}
}

// auditRequestObject records the object a request sent: its name,
// namespace, uid and resourceVersion complete the event's objectRef at
// every level, and at levels Request and RequestResponse the event
// carries it.
func auditRequestObject(ctx context.Context, obj catalog.Object) {
	rec := auditRecordFrom(ctx)
	if rec == nil {
		return
	}
	var data []byte
	if rec.decision.Level != auditv1.LevelMetadata {
		data, _ = json.Marshal(obj)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.done {
		return
	}
	if ref := rec.event.ObjectRef; ref != nil {
		if ref.Namespace == "" {
			ref.Namespace = obj.GetNamespace()
		}
		if ref.Name == "" {
			ref.Name = obj.GetName()
		}
		if ref.UID == "" {
			ref.UID = obj.GetUID()
		}
		if ref.ResourceVersion == "" {
			ref.ResourceVersion = obj.GetResourceVersion()
		}
	}
	rec.requestObject = data
}

// auditRequestPatch records a patch as the request's object, in JSON.
func auditRequestPatch(ctx context.Context, patchType string, body []byte) {
	rec := auditRecordFrom(ctx)
	if rec == nil || rec.decision.Level == auditv1.LevelMetadata {
		return
	}
	data := body
	if patchType == patchApply {
		var err error
		if data, err = yaml.YAMLToJSON(body); err != nil {
			return
		}
	}
	rec.mu.Lock()
	if !rec.done {
		rec.requestObject = data
	}
	rec.mu.Unlock()
}

// auditWriter watches the response for the audit event: its code, the
// Status of a failure, the start of a long-running response, and at
// level RequestResponse the body.
type auditWriter struct {
	http.ResponseWriter
	s           *Server
	r           *http.Request
	rec         *auditRecord
	longRunning bool
	keepBody    bool

	mu       sync.Mutex
	code     int
	status   *metav1.Status
	body     bytes.Buffer
	overflow bool
	started  bool
	// statusOf holds the status of a response that wrote none, so that
	// recording it allocates nothing.
	statusOf metav1.Status
}

func (aw *auditWriter) WriteHeader(code int) {
	aw.mu.Lock()
	first := aw.code == 0
	if first {
		aw.code = code
	}
	aw.mu.Unlock()
	if first && aw.longRunning && !aw.rec.decision.Omits(auditv1.StageResponseStarted) {
		aw.started = true
		aw.s.processAudit(aw.r, aw.rec.stage(auditv1.StageResponseStarted, &metav1.Status{Code: int32(code)}))
	}
	aw.ResponseWriter.WriteHeader(code)
}

func (aw *auditWriter) Write(p []byte) (int, error) {
	aw.mu.Lock()
	code := aw.code
	aw.mu.Unlock()
	if code == 0 {
		aw.WriteHeader(http.StatusOK)
	}
	if aw.keepBody {
		aw.mu.Lock()
		if aw.body.Len()+len(p) > maxAuditedResponse {
			aw.overflow = true
			aw.body = bytes.Buffer{}
			aw.keepBody = false
		} else {
			aw.body.Write(p)
		}
		aw.mu.Unlock()
	}
	return aw.ResponseWriter.Write(p)
}

// Flush serves watches, which flush each event.
func (aw *auditWriter) Flush() {
	if f, ok := aw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (upgrades).
func (aw *auditWriter) Unwrap() http.ResponseWriter { return aw.ResponseWriter }

// auditStatus is how writeStatus tells the audit event what it answered.
func (aw *auditWriter) auditStatus(st metav1.Status) {
	aw.mu.Lock()
	aw.status = &metav1.Status{Status: st.Status, Message: st.Message, Reason: st.Reason, Details: st.Details, Code: st.Code}
	aw.mu.Unlock()
}

// complete records the ResponseComplete stage.
func (aw *auditWriter) complete() {
	rec := aw.rec
	if rec.decision.Omits(auditv1.StageResponseComplete) {
		return
	}
	aw.mu.Lock()
	status, code := aw.status, aw.code
	body, overflow := aw.body.Bytes(), aw.overflow
	aw.mu.Unlock()
	if status == nil {
		switch {
		case code == 0 && strings.EqualFold(aw.r.Header.Get("Connection"), "upgrade"):
			code = http.StatusSwitchingProtocols // the connection was hijacked
		case code == 0:
			code = http.StatusOK
		}
		aw.statusOf = metav1.Status{Code: int32(code)}
		status = &aw.statusOf
	}
	ev := rec.final(auditv1.StageResponseComplete, status)
	ev.Annotations = audit.AnnotationsFrom(aw.r.Context()).Take()
	if rec.decision.Level != auditv1.LevelMetadata && rec.requestObject != nil {
		ev.RequestObject = auditObject(audit.Redact(rec.target, rec.requestObject, rec.decision.OmitManagedFields))
	}
	if rec.decision.Level == auditv1.LevelRequestResponse {
		switch {
		case overflow:
			if ev.Annotations == nil {
				ev.Annotations = map[string]string{}
			}
			ev.Annotations[annotationTruncated] = "true"
		case len(body) > 0:
			if data := responseJSON(aw.Header().Get("Content-Type"), body); data != nil {
				ev.ResponseObject = auditObject(audit.Redact(rec.target, data, rec.decision.OmitManagedFields))
			}
		}
	}
	aw.s.processAudit(aw.r, ev)
}

func auditObject(data []byte) *runtime.Unknown {
	if data == nil {
		return nil
	}
	return &runtime.Unknown{Raw: data, ContentType: runtime.ContentTypeJSON}
}

// responseJSON is a response body as JSON: as sent, or converted from
// YAML or protobuf (built-in types, lists and Status).
func responseJSON(contentType string, body []byte) []byte {
	base, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(base) {
	case "application/json":
		return body
	case "application/yaml":
		data, err := yaml.YAMLToJSON(body)
		if err != nil {
			return nil
		}
		return data
	case protobufContentType:
		u, err := kubeproto.Unwrap(body)
		if err != nil {
			return nil
		}
		obj, err := scheme.Scheme.New(schema.FromAPIVersionAndKind(u.APIVersion, u.Kind))
		if err != nil {
			return nil
		}
		m, ok := obj.(interface{ Unmarshal([]byte) error })
		if !ok || m.Unmarshal(u.Raw) != nil {
			return nil
		}
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(u.APIVersion, u.Kind))
		data, err := json.Marshal(obj)
		if err != nil {
			return nil
		}
		return data
	}
	return nil
}

// auditAuthorization annotates the request's event with the
// authorizers' decision and reason, as kube-apiserver does.
func auditAuthorization(ctx context.Context, allowed bool, reason string) {
	decision := "forbid"
	if allowed {
		decision = "allow"
	}
	audit.Annotate(ctx, audit.AnnotationDecision, decision)
	audit.Annotate(ctx, audit.AnnotationReason, reason)
}

// auditUnauthenticated records a request that failed authentication,
// judged by the policy as a request of no user, with its 401.
func (s *Server) auditUnauthenticated(r *http.Request, status metav1.Status) {
	if s.cfg.Auditor == nil {
		return
	}
	received := time.Now()
	ri := RequestInfoFrom(r.Context())
	d := s.cfg.Auditor.Policy().Decide(auditRequest(nil, ri, r))
	if d.Level == auditv1.LevelNone {
		return
	}
	rec := newAuditRecord(r, ri, nil, d, received)
	status.Kind, status.APIVersion = "", ""
	for _, stage := range []auditv1.Stage{auditv1.StageResponseStarted, auditv1.StageResponseComplete} {
		if !d.Omits(stage) {
			s.processAudit(r, rec.stage(stage, &status))
		}
	}
}
