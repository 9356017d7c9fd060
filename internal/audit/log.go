package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"gopkg.in/natefinch/lumberjack.v2"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// The log backend's formats and modes, as kube-apiserver's
// --audit-log-format and --audit-log-mode name them.
const (
	FormatJSON   = "json"
	FormatLegacy = "legacy"

	ModeBlocking       = "blocking"
	ModeBlockingStrict = "blocking-strict"
	ModeBatch          = "batch"
)

// LogConfig configures the log backend, with kube-apiserver's
// --audit-log-* flags.
type LogConfig struct {
	// Path is the file; "-" is standard output.
	Path string
	// MaxAge (days), MaxBackups and MaxSize (megabytes) rotate the file;
	// Compress gzips rotated files.
	MaxAge, MaxBackups, MaxSize int
	Compress                    bool
	Format                      string
	Mode                        string
	// Batch mode: events wait in a buffer of BatchBufferSize and are
	// written BatchMaxSize at a time, or after BatchMaxWait.
	BatchBufferSize int
	BatchMaxSize    int
	BatchMaxWait    time.Duration
	// Batch mode may limit the rate of batches written.
	ThrottleEnable bool
	ThrottleQPS    float64
	ThrottleBurst  int
	Truncate       Truncation
}

// DefaultLogConfig has kube-apiserver's defaults.
func DefaultLogConfig() LogConfig {
	return LogConfig{Format: FormatJSON, Mode: ModeBlocking, BatchBufferSize: 10000, BatchMaxSize: 1, BatchMaxWait: 0, Truncate: DefaultTruncation()}
}

// Validate names the flag of each problem.
func (c LogConfig) Validate() error {
	var errs []error
	if c.Format != FormatJSON && c.Format != FormatLegacy {
		errs = append(errs, fmt.Errorf("--audit-log-format: %q is not json or legacy", c.Format))
	}
	if err := validateMode("--audit-log-mode", c.Mode); err != nil {
		errs = append(errs, err)
	}
	for _, v := range []struct {
		flag string
		n    int
	}{{"--audit-log-maxage", c.MaxAge}, {"--audit-log-maxbackup", c.MaxBackups}, {"--audit-log-maxsize", c.MaxSize}} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("%s: must be 0 or more, not %d", v.flag, v.n))
		}
	}
	if c.Mode == ModeBatch {
		if c.BatchBufferSize <= 0 {
			errs = append(errs, fmt.Errorf("--audit-log-batch-buffer-size: must be positive, not %d", c.BatchBufferSize))
		}
		if c.BatchMaxSize <= 0 {
			errs = append(errs, fmt.Errorf("--audit-log-batch-max-size: must be positive, not %d", c.BatchMaxSize))
		}
		if c.BatchMaxWait < 0 {
			errs = append(errs, fmt.Errorf("--audit-log-batch-max-wait: must not be negative, not %s", c.BatchMaxWait))
		}
		if c.ThrottleEnable && (c.ThrottleQPS <= 0 || c.ThrottleBurst <= 0) {
			errs = append(errs, errors.New("--audit-log-batch-throttle-qps and --audit-log-batch-throttle-burst: must be positive when throttled"))
		}
	}
	if err := c.Truncate.validate("--audit-log"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateMode(flag, mode string) error {
	switch mode {
	case ModeBlocking, ModeBlockingStrict, ModeBatch:
		return nil
	}
	return fmt.Errorf("%s: %q is not %s, %s or %s", flag, mode, ModeBatch, ModeBlocking, ModeBlockingStrict)
}

// Log writes events to a file, one line each, rotated by size, age and
// count (lumberjack). In blocking modes a request's line is in the
// kernel's hands before the request returns, so the event of a finished
// request reaches the log even if the server is killed: copied into the
// log's ring file, a shared mapping that a goroutine writes to the log in
// batches (ring), or, where there is no ring (standard output, or a
// system without shared mappings), written by the request itself through
// group commit. In batch mode events wait in a bounded buffer, and are
// dropped (counted and logged) when it is full.
type Log struct {
	cfg LogConfig
	log *slog.Logger

	mu     sync.Mutex // one write(2) at a time
	out    io.Writer
	ring   *ring       // blocking modes, to a file
	groups groupCommit // blocking modes, without a ring

	queue   chan *auditv1.Event
	limit   *rate.Limiter
	done    chan struct{}
	dropped atomic.Int64
	closed  atomic.Bool
}

// NewLog opens the log backend. The file and its rotated copies are
// 0600.
func NewLog(cfg LogConfig, log *slog.Logger) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	l := &Log{cfg: cfg, log: log}
	l.groups.write = func(p []byte) error { _, err := l.writeOut(p); return err }
	if cfg.Path == "-" {
		l.out = os.Stdout
	} else {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return nil, fmt.Errorf("--audit-log-path: %w", err)
		}
		// lumberjack keeps an existing file's mode: make it 0600 first.
		f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--audit-log-path: %w", err)
		}
		err = f.Chmod(0o600)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--audit-log-path: %w", err)
		}
		l.out = &lumberjack.Logger{Filename: cfg.Path, MaxAge: cfg.MaxAge, MaxBackups: cfg.MaxBackups, MaxSize: cfg.MaxSize, Compress: cfg.Compress}
		if sharedMappings {
			if err := l.openRing(); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Mode == ModeBatch {
		if cfg.ThrottleEnable {
			l.limit = rate.NewLimiter(rate.Limit(cfg.ThrottleQPS), cfg.ThrottleBurst)
		}
		l.queue = make(chan *auditv1.Event, cfg.BatchBufferSize)
		l.done = make(chan struct{})
		go l.run()
	}
	return l, nil
}

// openRing opens the ring file of the blocking modes. In batch mode it
// only appends to the log what an earlier run in a blocking mode left in
// one, if there is one.
func (l *Log) openRing() error {
	path := l.cfg.Path + ".ring"
	if l.cfg.Mode == ModeBatch {
		if _, err := os.Stat(path); err != nil {
			return nil
		}
	}
	r, err := openRing(path, l.cfg.Path, l.writeOut, l.log)
	switch {
	case err != nil:
		l.log.Warn("audit: no ring file; each request writes its own line", "err", err)
	case l.cfg.Mode == ModeBatch:
		return r.close()
	default:
		l.ring = r
	}
	return nil
}

// Process writes ev, or queues it in batch mode.
func (l *Log) Process(ev *auditv1.Event) error {
	if l.queue == nil {
		err := l.write(ev)
		if err != nil && l.cfg.Mode == ModeBlockingStrict {
			return err
		}
		return nil
	}
	if l.closed.Load() {
		l.drop(ev, "the backend is closed")
		return nil
	}
	// The event is shared with other backends and the request: queue a
	// copy of what matters now.
	select {
	case l.queue <- ev.DeepCopy():
	default:
		l.drop(ev, "the batch buffer is full")
	}
	return nil
}

func (l *Log) drop(ev *auditv1.Event, why string) {
	if n := l.dropped.Add(1); n&(n-1) == 0 { // the 1st, 2nd, 4th, 8th... drop
		l.log.Error("audit events dropped", "why", why, "dropped", n, "auditID", ev.AuditID)
	}
}

// Dropped is how many events were dropped.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

func (l *Log) run() {
	defer close(l.done)
	batch := make([]*auditv1.Event, 0, l.cfg.BatchMaxSize)
	var timer <-chan time.Time
	flush := func() {
		if l.limit != nil {
			l.limit.Wait(context.Background())
		}
		for _, ev := range batch {
			_ = l.write(ev)
		}
		batch, timer = batch[:0], nil
	}
	for {
		select {
		case ev, ok := <-l.queue:
			if !ok {
				flush()
				return
			}
			batch = append(batch, ev)
			if len(batch) >= l.cfg.BatchMaxSize || l.cfg.BatchMaxWait == 0 {
				flush()
			} else if timer == nil {
				timer = time.After(l.cfg.BatchMaxWait)
			}
		case <-timer:
			flush()
		}
	}
}

// write writes one event's line: in blocking modes into the ring, or
// through group commit (lines of requests that finish together share a
// write(2)); in batch mode from the queue's goroutine.
func (l *Log) write(ev *auditv1.Event) error {
	buf := lineBuffers.Get().(*[]byte)
	line, err := l.line((*buf)[:0], ev)
	if err != nil {
		lineBuffers.Put(buf)
		l.drop(ev, err.Error())
		return err
	}
	defer func() {
		if cap(line) <= maxPooledLine {
			*buf = line[:0]
			lineBuffers.Put(buf)
		}
	}()
	switch {
	case l.ring != nil:
		var kept bool
		kept, err = l.ring.append(line)
		switch {
		case err == nil:
			return nil
		case !kept && (errors.Is(err, errRingBroken) || errors.Is(err, errRingClosed)):
			break // written below, as without a ring (lumberjack reopens the file after Close)
		case kept && l.cfg.Mode == ModeBlocking:
			return nil // it waits in the ring for the log; the ring has logged the failure
		case kept: // blocking-strict refuses while the log fails
			return fmt.Errorf("audit log: %w", err)
		default:
			l.drop(ev, "the log cannot be written and the ring cannot hold the line: "+err.Error())
			return fmt.Errorf("audit log: %w", err)
		}
		err = l.groups.commit(line)
	case l.queue == nil:
		err = l.groups.commit(line)
	default:
		_, err = l.writeOut(line)
	}
	if err != nil {
		l.dropped.Add(1)
		l.log.Error("cannot write an audit event", "auditID", ev.AuditID, "file", l.cfg.Path, "err", err)
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// writeOut makes one write(2) of whole lines, and says how many bytes
// the file took.
func (l *Log) writeOut(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.Write(p)
}

// line appends ev's line to dst.
func (l *Log) line(dst []byte, ev *auditv1.Event) ([]byte, error) {
	if l.cfg.Format == FormatLegacy {
		return append(append(dst, LegacyLine(ev)...), '\n'), nil
	}
	data, err := l.cfg.Truncate.encode(dst, ev)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// lineBuffers are the buffers lines are encoded into, reused from write
// to write: most of what a Metadata event costs the server is its line.
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledLine keeps the rare large line's buffer out of the pool.
const maxPooledLine = 64 << 10

// Close writes what batch mode still holds and closes the file.
func (l *Log) Close() error {
	if l.queue != nil && l.closed.CompareAndSwap(false, true) {
		close(l.queue)
		<-l.done
	}
	var err error
	if l.ring != nil {
		err = l.ring.close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.out.(io.Closer); ok && l.cfg.Path != "-" {
		return errors.Join(err, c.Close())
	}
	return err
}

// LegacyLine is an event in --audit-log-format=legacy: one line of
// key="value" pairs, as kube-apiserver writes it.
func LegacyLine(ev *auditv1.Event) string {
	user, groups := "<none>", "<none>"
	if ev.User.Username != "" {
		user = ev.User.Username
		if len(ev.User.Groups) > 0 {
			groups = quoteAll(ev.User.Groups)
		}
	}
	as, asGroups := "<self>", "<lookup>"
	if ev.ImpersonatedUser != nil {
		as = ev.ImpersonatedUser.Username
		if ev.ImpersonatedUser.Groups != nil {
			asGroups = quoteAll(ev.ImpersonatedUser.Groups)
		}
	}
	namespace := "<none>"
	if ev.ObjectRef != nil && ev.ObjectRef.Namespace != "" {
		namespace = ev.ObjectRef.Namespace
	}
	response := "<deferred>"
	if ev.ResponseStatus != nil {
		response = strconv.Itoa(int(ev.ResponseStatus.Code))
	}
	ip := "<unknown>"
	if len(ev.SourceIPs) > 0 {
		ip = ev.SourceIPs[0]
	}
	return fmt.Sprintf("%s AUDIT: id=%q stage=%q ip=%q method=%q user=%q groups=%q as=%q asgroups=%q user-agent=%q namespace=%q uri=%q response=\"%s\"",
		ev.RequestReceivedTimestamp.Format(time.RFC3339Nano), ev.AuditID, ev.Stage, ip, ev.Verb, user, groups, as, asGroups,
		ev.UserAgent, namespace, ev.RequestURI, response)
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ",")
}
