package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/sekisho/sekisho/internal/authn/webhook"
)

// WebhookConfig configures the webhook backend, with kube-apiserver's
// --audit-webhook-* flags and the spool sekisho adds.
type WebhookConfig struct {
	// ConfigFile is a kubeconfig: its server is the webhook, its CA
	// verifies it, its user is how sekisho authenticates to it.
	ConfigFile string
	Mode       string
	// InitialBackoff is the first wait after a failed delivery; it
	// doubles up to maxWebhookBackoff.
	InitialBackoff time.Duration
	// BatchBufferSize is kept for kube-apiserver's flag: events wait in
	// the spool, bounded by SpoolMaxBytes, not in memory.
	BatchBufferSize int
	BatchMaxSize    int
	BatchMaxWait    time.Duration
	ThrottleEnable  bool
	ThrottleQPS     float64
	ThrottleBurst   int
	// SpoolDir holds events not yet delivered; SpoolMaxBytes bounds it.
	SpoolDir      string
	SpoolMaxBytes int64
	// Timeout bounds one delivery.
	Timeout  time.Duration
	Truncate Truncation
}

// DefaultWebhookConfig has kube-apiserver's defaults, and a 1 GiB spool.
func DefaultWebhookConfig() WebhookConfig {
	return WebhookConfig{Mode: ModeBatch, InitialBackoff: 10 * time.Second, BatchBufferSize: 10000, BatchMaxSize: 400,
		BatchMaxWait: 30 * time.Second, ThrottleEnable: true, ThrottleQPS: 10, ThrottleBurst: 15, SpoolMaxBytes: 1 << 30, Timeout: 30 * time.Second,
		Truncate: DefaultTruncation()}
}

// maxWebhookBackoff caps the wait between failed deliveries.
const maxWebhookBackoff = time.Minute

// Validate names the flag of each problem.
func (c WebhookConfig) Validate() error {
	var errs []error
	if err := validateMode("--audit-webhook-mode", c.Mode); err != nil {
		errs = append(errs, err)
	}
	for _, v := range []struct {
		flag string
		bad  bool
	}{
		{"--audit-webhook-initial-backoff", c.InitialBackoff <= 0},
		{"--audit-webhook-batch-buffer-size", c.BatchBufferSize <= 0},
		{"--audit-webhook-batch-max-size", c.BatchMaxSize <= 0},
		{"--audit-webhook-batch-max-wait", c.BatchMaxWait < 0},
		{"--audit-webhook-batch-throttle-qps", c.ThrottleEnable && c.ThrottleQPS <= 0},
		{"--audit-webhook-batch-throttle-burst", c.ThrottleEnable && c.ThrottleBurst <= 0},
		{"--audit-webhook-spool-max-size", c.SpoolMaxBytes <= 0},
	} {
		if v.bad {
			errs = append(errs, fmt.Errorf("%s: must be positive", v.flag))
		}
	}
	if err := c.Truncate.validate("--audit-webhook"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Webhook sends events to a remote service as EventList bodies, as
// kube-apiserver does, without kube-apiserver's losses: every event is
// first appended to an on-disk spool, and delivered from there in order,
// again and again until the webhook takes it. Memory holds one batch,
// whatever the webhook does. When the spool is full, blocking-strict
// refuses the request; the other modes drop the event, count it and log.
//
// In batch mode a request does not wait for delivery. In the blocking
// modes it waits, at most the initial backoff: a webhook that is down
// delays requests that long, and its events wait in the spool.
type Webhook struct {
	cfg    WebhookConfig
	client *webhook.Client
	spool  *Spool
	log    *slog.Logger
	limit  *rate.Limiter

	dropped atomic.Int64

	mu        sync.Mutex
	delivered *sync.Cond // broadcast when the spool's committed position moves

	stop   chan struct{}
	ctx    context.Context // ends with stop
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWebhook opens the spool and starts delivering.
func NewWebhook(cfg WebhookConfig, log *slog.Logger) (*Webhook, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	client, err := webhook.NewClient(cfg.ConfigFile, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("--audit-webhook-config-file: %w", err)
	}
	spool, err := OpenSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("audit webhook spool: %w", err)
	}
	w := &Webhook{cfg: cfg, client: client, spool: spool, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	w.delivered = sync.NewCond(&w.mu)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if cfg.ThrottleEnable {
		w.limit = rate.NewLimiter(rate.Limit(cfg.ThrottleQPS), cfg.ThrottleBurst)
	}
	go w.run()
	return w, nil
}

// Process spools ev, and in the blocking modes waits for its delivery.
func (w *Webhook) Process(ev *auditv1.Event) error {
	data, err := w.cfg.Truncate.encode(make([]byte, 0, 1024), ev)
	if err != nil {
		return w.fail(ev, fmt.Errorf("cannot encode the event: %w", err))
	}
	pos, err := w.spool.Append(data)
	if err != nil {
		return w.fail(ev, err)
	}
	if w.cfg.Mode == ModeBatch {
		return nil
	}
	w.waitFor(pos, w.cfg.InitialBackoff)
	return nil
}

// fail drops ev, or in blocking-strict mode refuses its request.
func (w *Webhook) fail(ev *auditv1.Event, err error) error {
	if w.cfg.Mode == ModeBlockingStrict {
		return fmt.Errorf("audit webhook: %w", err)
	}
	if n := w.dropped.Add(1); n&(n-1) == 0 {
		w.log.Error("audit events dropped", "backend", "webhook", "why", err, "dropped", n, "auditID", ev.AuditID)
	}
	return nil
}

// batchBytes bounds an EventList: the truncation's batch size, or none.
func (w *Webhook) batchBytes() int64 {
	if w.cfg.Truncate.Enabled {
		return w.cfg.Truncate.MaxBatchSize
	}
	return math.MaxInt64
}

// Dropped is how many events were dropped.
func (w *Webhook) Dropped() int64 { return w.dropped.Load() }

// Check refuses, in blocking-strict mode, while the spool is full: a
// request whose events could not be kept is not served.
func (w *Webhook) Check() error {
	if w.cfg.Mode == ModeBlockingStrict && w.spool.Held() >= w.cfg.SpoolMaxBytes-maxEventBytes {
		return fmt.Errorf("audit webhook: %w", ErrSpoolFull)
	}
	return nil
}

// maxEventBytes is room kept in the spool for the events of a request
// that Check let in.
const maxEventBytes = 64 << 10

// waitFor waits until everything before pos is delivered, or at most d.
func (w *Webhook) waitFor(pos Position, d time.Duration) {
	timer := time.AfterFunc(d, func() {
		w.mu.Lock()
		w.delivered.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(d)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.spool.Committed().Before(pos) && time.Now().Before(deadline) {
		select {
		case <-w.stop:
			return
		default:
		}
		w.delivered.Wait()
	}
}

// run delivers the spool in order, a batch at a time: when BatchMaxSize
// events wait, or BatchMaxWait after the first of them.
func (w *Webhook) run() {
	defer close(w.done)
	backoff := w.cfg.InitialBackoff
	for {
		// Wait for a first event, then for the batch to fill or its time.
		select {
		case <-w.stop:
			return
		case <-w.spool.Ready():
		case <-time.After(time.Second): // an event spooled before a failed delivery
		}
		deadline := time.After(w.cfg.BatchMaxWait)
	fill:
		for {
			records, _, err := w.spool.Peek(w.cfg.BatchMaxSize, w.batchBytes())
			if err != nil || len(records) == 0 || len(records) >= w.cfg.BatchMaxSize || w.cfg.BatchMaxWait == 0 {
				break
			}
			select {
			case <-w.stop:
				return
			case <-deadline:
				break fill
			case <-w.spool.Ready():
			}
		}
		for {
			records, next, err := w.spool.Peek(w.cfg.BatchMaxSize, w.batchBytes())
			if err != nil {
				w.log.Error("cannot read the audit spool", "err", err)
				break
			}
			if len(records) == 0 {
				break
			}
			if w.limit != nil {
				if err := w.limit.Wait(w.ctx); err != nil {
					return
				}
			}
			if err := w.send(records); err != nil {
				w.log.Warn("audit webhook delivery failed; the events stay in the spool", "err", err,
					"events", len(records), "retry in", backoff.String(), "spooled bytes", w.spool.Held())
				select {
				case <-w.stop:
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, maxWebhookBackoff)
				continue
			}
			backoff = w.cfg.InitialBackoff
			if err := w.spool.Commit(next); err != nil {
				w.log.Error("cannot save the audit spool's cursor; events may be sent twice", "err", err)
			}
			w.mu.Lock()
			w.delivered.Broadcast()
			w.mu.Unlock()
			if len(records) < w.cfg.BatchMaxSize {
				break
			}
		}
	}
}

// send posts records as one EventList.
func (w *Webhook) send(records [][]byte) error {
	var body bytes.Buffer
	body.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i, r := range records {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r)
	}
	body.WriteString("]}")
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.client.URL, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.HTTP.Do(req)
	if err != nil {
		// Not the URL, whose query could hold a credential.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %d", resp.StatusCode)
	}
	return nil
}

// Close stops delivering; what is spooled is delivered after the next
// start.
func (w *Webhook) Close() error {
	close(w.stop)
	w.cancel()
	w.mu.Lock()
	w.delivered.Broadcast()
	w.mu.Unlock()
	<-w.done
	return w.spool.Close()
}
