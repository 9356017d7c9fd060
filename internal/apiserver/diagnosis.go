package apiserver

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
)

// A client refused with 401 cannot see why: Kubernetes tells it nothing,
// so as not to help a guesser. sekisho remembers each recent refusal by
// the request's Audit-Id and a fingerprint of the credential presented,
// and tells the cause to whoever presents that same credential again, or
// to an administrator (docs/authentication.md, "Why was I refused?").

// DiagnosisPathPrefix is where the cause of a refused request is read:
// GET DiagnosisPathPrefix + <Audit-Id>.
const DiagnosisPathPrefix = "/diagnose/authentication/"

var schemaNone = schema.GroupResource{}

const (
	failureLogSize = 4096
	failureTTL     = 15 * time.Minute
)

// AuthenticationDiagnosis is the answer: why the request with AuditID was
// refused. Cause, the server's precise words, is given to administrators
// only.
type AuthenticationDiagnosis struct {
	metav1.TypeMeta `json:",inline"`
	AuditID         string              `json:"auditID"`
	Time            metav1.Time         `json:"time"`
	Reason          authn.FailureReason `json:"reason"`
	Message         string              `json:"message"`
	Cause           string              `json:"cause,omitempty"`
}

type failureKey struct {
	auditID     string
	fingerprint [sha256.Size]byte
}

type failureRecord struct {
	key     failureKey
	at      time.Time
	failure *authn.Failure
}

// failureLog keeps the last failureLogSize refusals, each for failureTTL.
type failureLog struct {
	mu    sync.Mutex
	byKey map[failureKey]*failureRecord
	ring  []*failureRecord
	next  int
}

func newFailureLog() *failureLog {
	return &failureLog{byKey: map[failureKey]*failureRecord{}, ring: make([]*failureRecord, failureLogSize)}
}

// credentialFingerprint digests what a request presents as credentials:
// its client certificate and its bearer token. ok is false when it
// presents neither.
func credentialFingerprint(r *http.Request) (fp [sha256.Size]byte, ok bool) {
	h := sha256.New()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		h.Write([]byte("certificate\x00"))
		h.Write(r.TLS.PeerCertificates[0].Raw)
		ok = true
	}
	if token, has := authn.BearerTokenOf(r); has {
		h.Write([]byte("\x00token\x00"))
		h.Write([]byte(token))
		ok = true
	}
	copy(fp[:], h.Sum(nil))
	return fp, ok
}

func (l *failureLog) record(auditID string, r *http.Request, err error, now time.Time) {
	fp, ok := credentialFingerprint(r)
	if !ok {
		return
	}
	rec := &failureRecord{key: failureKey{auditID, fp}, at: now, failure: authn.Explain(err)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.ring[l.next]; old != nil && l.byKey[old.key] == old {
		delete(l.byKey, old.key)
	}
	l.ring[l.next] = rec
	l.next = (l.next + 1) % len(l.ring)
	l.byKey[rec.key] = rec
}

// lookup finds the refusal of auditID for the credential fingerprint fp,
// or for any credential when anyCredential is set.
func (l *failureLog) lookup(auditID string, fp [sha256.Size]byte, anyCredential bool, now time.Time) *failureRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var found *failureRecord
	if anyCredential {
		for k, rec := range l.byKey {
			if k.auditID == auditID && (found == nil || rec.at.After(found.at)) {
				found = rec
			}
		}
	} else {
		found = l.byKey[failureKey{auditID, fp}]
	}
	if found == nil || now.Sub(found.at) > failureTTL {
		return nil
	}
	return found
}

// serveDiagnosis answers GET DiagnosisPathPrefix<Audit-Id>. An
// administrator (allowed to get that path) reads any refusal with its
// precise cause. Anyone else reads only a refusal of the very credential
// they present now, with the message meant for its holder; for every other
// case they get exactly the 401 of a failed authentication, so the answer
// says nothing about other requests or credentials, not even whether an
// Audit-Id exists.
func (s *Server) serveDiagnosis(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, DiagnosisPathPrefix)
	if r.Method != http.MethodGet || id == "" || strings.Contains(id, "/") {
		writeStatus(w, apierrors.NewMethodNotSupported(schemaNone, r.Method).ErrStatus)
		return
	}
	now := s.now()
	admin := false
	if u, ok, err := s.cfg.Authenticator.Authenticate(r); ok && err == nil {
		d, _, err := s.cfg.Authorizer.Authorize(r.Context(), authz.Attributes{User: u, Verb: "get", Path: r.URL.Path})
		admin = d == authz.Allow && err == nil
	}
	fp, presented := credentialFingerprint(r)
	var rec *failureRecord
	switch {
	case admin:
		if rec = s.failures.lookup(id, fp, true, now); rec == nil {
			writeStatus(w, apierrors.NewNotFound(schemaNone, id).ErrStatus)
			return
		}
	case presented:
		rec = s.failures.lookup(id, fp, false, now)
	}
	if rec == nil {
		writeStatus(w, unauthorized())
		return
	}
	out := AuthenticationDiagnosis{
		TypeMeta: metav1.TypeMeta{APIVersion: "sekisho.io/v1alpha1", Kind: "AuthenticationDiagnosis"},
		AuditID:  id, Time: metav1.NewTime(rec.at), Reason: rec.failure.Reason, Message: rec.failure.Message,
	}
	if admin {
		out.Cause = rec.failure.Err.Error()
	}
	data, _ := json.Marshal(out)
	writeBytes(w, http.StatusOK, "application/json", data)
}
