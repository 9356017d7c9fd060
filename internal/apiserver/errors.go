package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/storage"
)

// genericServerError is all a client learns about an unexpected failure;
// the log has the cause.
var genericServerError = errors.New("an error on the server has prevented the request from succeeding")

// toStatus converts err into the Status a client receives. Errors that are
// already API statuses pass through; anything else becomes a generic 500.
func toStatus(err error) (metav1.Status, bool) {
	if errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError("request did not complete within requested timeout - context deadline exceeded", 0).ErrStatus, true
	}
	if errors.Is(err, storage.ErrOutcomeUnknown) {
		return apierrors.NewServiceUnavailable("the storage is unavailable (etcd lost its quorum or leader during the write), and the write may or may not have been applied: read the object before writing it again").ErrStatus, false
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return apierrors.NewServiceUnavailable("the storage is unavailable (etcd has no quorum); try again later").ErrStatus, false
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		if s.Code == 0 {
			s.Code = http.StatusInternalServerError
		}
		return s, true
	}
	return apierrors.NewInternalError(genericServerError).ErrStatus, false
}

// writeStatus writes a Status body with its HTTP code.
func writeStatus(w http.ResponseWriter, s metav1.Status) {
	s.Kind, s.APIVersion = "Status", "v1"
	if s.Status == "" {
		s.Status = metav1.StatusFailure
	}
	if aw, ok := w.(interface{ auditStatus(metav1.Status) }); ok {
		aw.auditStatus(s)
	}
	data, _ := json.Marshal(s)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(int(s.Code))
	w.Write(data)
}

// writeError answers a request with err as a Status, and logs the precise
// cause of server-side failures with the request's Audit-Id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st, known := toStatus(err)
	if !known || st.Code >= 500 {
		s.log.Error("request failed", "auditID", auditID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Debug("request refused", "auditID", auditID(r.Context()), "method", r.Method, "path", r.URL.Path, "code", st.Code, "err", err)
	}
	writeStatus(w, st)
}

// unauthorized is Kubernetes' 401 Status: the client learns nothing about why.
func unauthorized() metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Message: "Unauthorized", Reason: metav1.StatusReasonUnauthorized, Code: http.StatusUnauthorized}
}

func logAttrs(r *http.Request) []any {
	return []any{"auditID", auditID(r.Context()), "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr}
}
