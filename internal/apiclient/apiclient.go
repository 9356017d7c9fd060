// Package apiclient is a small JSON client for the Kubernetes API, used by
// sekisho's own commands (token, doctor, rbac). It reads kubeconfig files
// with client-go, so every credential kubectl supports works, but it does
// not pull in client-go's typed clients.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Client talks to one API server as one user.
type Client struct {
	Server string
	HTTP   *http.Client
	Config *rest.Config
}

// New loads a kubeconfig (the default chain when path is empty) and
// selects context, or the current one when context is empty.
func New(path, context string) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return FromConfig(cfg)
}

// FromConfig builds a client from a rest.Config.
func FromConfig(cfg *rest.Config) (*Client, error) {
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{Server: strings.TrimSuffix(cfg.Host, "/"), HTTP: &http.Client{Transport: tr, Timeout: cfg.Timeout}, Config: cfg}, nil
}

// Do sends in (JSON-encoded, if not nil) and decodes the answer into out
// (if not nil). A non-2xx answer is returned as the server's Status.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var st metav1.Status
		var err error = apierrors.NewGenericServerResponse(resp.StatusCode, method, schemaGR, "", strings.TrimSpace(string(data)), 0, false)
		if json.Unmarshal(data, &st) == nil && st.Kind == "Status" {
			err = &apierrors.StatusError{ErrStatus: st}
		}
		return &ResponseError{Err: err, AuditID: resp.Header.Get("Audit-Id")}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

var schemaGR = schema.GroupResource{}

// ResponseError is a non-2xx answer: the server's Status, and the Audit-Id
// the server gave the request, which its log and sekisho's diagnosis
// endpoint know it by.
type ResponseError struct {
	Err     error
	AuditID string
}

func (e *ResponseError) Error() string { return e.Err.Error() }
func (e *ResponseError) Unwrap() error { return e.Err }

// AuditIDOf returns the Audit-Id of the answer err came from, or "".
func AuditIDOf(err error) string {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.AuditID
	}
	return ""
}
