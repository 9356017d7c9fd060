// Package componentstatus computes core/v1 componentstatuses: the health
// of the control plane's parts, probed when a client reads them, as
// kube-apiserver does for kubectl get componentstatuses.
package componentstatus

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
)

// Timeout bounds one probe, as in kube-apiserver.
const Timeout = 20 * time.Second

// Kubernetes' default secure ports of the components kube-apiserver
// probes. Like kube-apiserver, sekisho assumes them: a component that
// listens elsewhere shows as unhealthy.
const (
	ControllerManagerAddress = "127.0.0.1:10257"
	SchedulerAddress         = "127.0.0.1:10259"
)

// Probe is one component and how to check it.
type Probe struct {
	Name  string
	Check func(ctx context.Context) corev1.ComponentCondition
}

// Prober answers componentstatuses from its probes.
type Prober struct {
	Probes []Probe
}

// Default probes the controller-manager and the scheduler at their
// default ports, and the store with storage, under the name store.
func Default(store string, storage func(ctx context.Context) error) *Prober {
	return &Prober{Probes: []Probe{
		{Name: "controller-manager", Check: HTTPS(ControllerManagerAddress)},
		{Name: "scheduler", Check: HTTPS(SchedulerAddress)},
		{Name: store, Check: Storage(storage)},
	}}
}

var _ catalog.Computer = (*Prober)(nil)

// Get probes the named component.
func (p *Prober) Get(ctx context.Context, name string) (catalog.Object, error) {
	for _, pr := range p.Probes {
		if pr.Name == name {
			return status(ctx, pr), nil
		}
	}
	// kube-apiserver names the resource in the singular here.
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "componentstatus"}, name)
}

// List probes every component at once.
func (p *Prober) List(ctx context.Context) ([]catalog.Object, error) {
	out := make([]catalog.Object, len(p.Probes))
	var wg sync.WaitGroup
	for i, pr := range p.Probes {
		wg.Go(func() { out[i] = status(ctx, pr) })
	}
	wg.Wait()
	return out, nil
}

func status(ctx context.Context, pr Probe) *corev1.ComponentStatus {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	cs := &corev1.ComponentStatus{Conditions: []corev1.ComponentCondition{pr.Check(ctx)}}
	cs.Name = pr.Name
	return cs
}

// maxBody is how much of a health answer becomes the message, as much as
// kubelet probes keep.
const maxBody = 10 * 1024

// HTTPS checks a component's /healthz over TLS. As kube-apiserver does,
// it does not verify the component's serving certificate (components
// serve self-signed ones by default) and it sends no credentials: /healthz
// needs none, and the answer is only displayed. A 2xx answer is healthy
// with the body as message; any other answer or a failure to connect is
// unhealthy, with kube-apiserver's wording.
func HTTPS(address string) func(ctx context.Context) corev1.ComponentCondition {
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // see above
		DisableKeepAlives: true,
	}}
	url := "https://" + address + "/healthz"
	return func(ctx context.Context) corev1.ComponentCondition {
		c := corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionFalse}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			c.Status, c.Error = corev1.ConditionUnknown, err.Error()
			return c
		}
		req.Header.Set("User-Agent", "sekisho-probe")
		resp, err := client.Do(req)
		if err != nil {
			c.Message = err.Error()
			return c
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		switch {
		case err != nil:
			c.Error = err.Error()
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			c.Status, c.Message = corev1.ConditionTrue, string(body)
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			// kube-apiserver's prober stops at a redirect with a warning,
			// which it shows as Unknown.
			c.Status, c.Message = corev1.ConditionUnknown, "Probe terminated redirects, Response body: "+string(body)
		default:
			c.Message = fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return c
	}
}

// Storage checks the store: healthy with message "ok", or unhealthy with
// the failure as error.
func Storage(check func(ctx context.Context) error) func(ctx context.Context) corev1.ComponentCondition {
	return func(ctx context.Context) corev1.ComponentCondition {
		if err := check(ctx); err != nil {
			return corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionFalse, Error: err.Error()}
		}
		return corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionTrue, Message: "ok"}
	}
}
