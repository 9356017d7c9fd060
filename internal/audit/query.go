package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// LogFiles are the files of the audit log at path, oldest first: the
// rotated copies lumberjack left beside it (gzipped or not), then the log
// itself.
func LogFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil, err
	}
	var rotated []string
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".gz")
		// NAME-2006-01-02T15-04-05.000.EXT: the time sorts as text.
		if stamp, ok := strings.CutPrefix(name, prefix); ok && strings.HasSuffix(stamp, ext) {
			if _, err := time.Parse("2006-01-02T15-04-05.000", strings.TrimSuffix(stamp, ext)); err == nil {
				rotated = append(rotated, filepath.Join(dir, e.Name()))
			}
		}
	}
	slices.Sort(rotated)
	if _, err := os.Stat(path); err == nil {
		rotated = append(rotated, path)
	}
	if len(rotated) == 0 {
		return nil, fmt.Errorf("%s: no audit log there", path)
	}
	return rotated, nil
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	User, Group, Verb string
	// Resource is "pods", "pods/log" or "deployments.apps".
	Resource  string
	Namespace string
	Name      string
	Since     time.Time
	Until     time.Time
	// Decision is "allow" or "forbid".
	Decision string
	Code     int
	// Stages are the stages shown; none means ResponseComplete and Panic,
	// one event for each request.
	Stages []auditv1.Stage

	needles     [][]byte // what a matching line must hold; see mightMatch
	needlesMade bool
}

// mightMatch is a quick look at a line before it is decoded: an event
// the filter selects holds each string the filter names as a JSON
// string, encoded as the log encodes it, and its code as "code":N.
func (f *Filter) mightMatch(line []byte) bool {
	if !f.needlesMade {
		f.needlesMade = true
		resource, sub, _ := strings.Cut(f.Resource, "/")
		resource, group, _ := strings.Cut(resource, ".")
		for _, v := range []string{f.User, f.Group, f.Verb, resource, sub, group, f.Namespace, f.Name, f.Decision} {
			if v != "" {
				quoted, _ := json.Marshal(v)
				f.needles = append(f.needles, quoted)
			}
		}
		if f.Code != 0 {
			f.needles = append(f.needles, fmt.Appendf(nil, `"code":%d`, f.Code))
		}
	}
	for _, n := range f.needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}

// Matches reports whether ev is selected.
func (f *Filter) Matches(ev *auditv1.Event) bool {
	stages := f.Stages
	if len(stages) == 0 {
		stages = []auditv1.Stage{auditv1.StageResponseComplete, auditv1.StagePanic}
	}
	if !slices.Contains(stages, ev.Stage) {
		return false
	}
	switch {
	case f.User != "" && ev.User.Username != f.User && (ev.ImpersonatedUser == nil || ev.ImpersonatedUser.Username != f.User):
		return false
	case f.Group != "" && !slices.Contains(ev.User.Groups, f.Group):
		return false
	case f.Verb != "" && ev.Verb != f.Verb:
		return false
	case f.Decision != "" && ev.Annotations[AnnotationDecision] != f.Decision:
		return false
	case f.Code != 0 && (ev.ResponseStatus == nil || int(ev.ResponseStatus.Code) != f.Code):
		return false
	case !f.Since.IsZero() && ev.RequestReceivedTimestamp.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !ev.RequestReceivedTimestamp.Time.Before(f.Until):
		return false
	}
	if f.Resource != "" || f.Namespace != "" || f.Name != "" {
		ref := ev.ObjectRef
		if ref == nil {
			return false
		}
		if f.Namespace != "" && ref.Namespace != f.Namespace || f.Name != "" && ref.Name != f.Name {
			return false
		}
		if f.Resource != "" {
			resource, sub, _ := strings.Cut(f.Resource, "/")
			resource, group, grouped := strings.Cut(resource, ".")
			if ref.Resource != resource || sub != "" && ref.Subresource != sub || grouped && ref.APIGroup != group {
				return false
			}
		}
	}
	return true
}

// kube-apiserver's annotations of the authorizers' decision and reason.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// Scan reads the events of the files in order and calls each with those
// the filter selects. A line that is not an event is skipped and
// reported to warn with its file and line: at the end of a file, a write
// cut short by a crash.
func Scan(files []string, f *Filter, warn func(string), each func(*auditv1.Event, []byte) error) error {
	for _, path := range files {
		if err := scanFile(path, f, warn, each); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(path string, f *Filter, warn func(string), each func(*auditv1.Event, []byte) error) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	br := bufio.NewReaderSize(r, 1<<20)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		switch {
		case len(line) == 0:
		case line[len(line)-1] != '\n':
			// The server writes a line at a time: this one was cut short.
			warn(fmt.Sprintf("%s:%d: skipped a partial last line (a write cut short)", path, n))
		default:
			if e := scanLine(line[:len(line)-1], f, each); e == errNotEvent {
				warn(fmt.Sprintf("%s:%d: skipped a line that is not an audit event", path, n))
			} else if e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

var errNotEvent = fmt.Errorf("not an event")

func scanLine(line []byte, f *Filter, each func(*auditv1.Event, []byte) error) error {
	if len(line) == 0 {
		return nil
	}
	if !f.mightMatch(line) {
		// Not decoded: a line that is not an event but does not hold
		// what is asked for goes unreported.
		return nil
	}
	ev, ok := DecodeEvent(line)
	if !ok {
		return errNotEvent
	}
	if !f.Matches(ev) {
		return nil
	}
	return each(ev, line)
}

// DecodeEvent decodes one line of the log; ok is false when it is not an
// event.
func DecodeEvent(line []byte) (ev *auditv1.Event, ok bool) {
	ev = &auditv1.Event{}
	if err := json.Unmarshal(line, ev); err != nil || ev.Kind != "Event" {
		return nil, false
	}
	return ev, true
}

// TableHeader and TableRow are `sekisho audit query -o table`: who did
// what to which object, when, and whether it was allowed, with the
// reason of a denial.
const TableHeader = "TIME\tUSER\tVERB\tOBJECT\tCODE\tDECISION\tREASON"

// TableRow is one event's row.
func TableRow(ev *auditv1.Event) string {
	user := ev.User.Username
	if user == "" {
		user = "<none>"
	}
	if ev.ImpersonatedUser != nil {
		user += " as " + ev.ImpersonatedUser.Username
	}
	object := ev.RequestURI
	if ref := ev.ObjectRef; ref != nil {
		object = ref.Resource
		if ref.APIGroup != "" {
			object += "." + ref.APIGroup
		}
		if ref.Subresource != "" {
			object += "/" + ref.Subresource
		}
		switch {
		case ref.Namespace != "" && ref.Name != "":
			object += " " + ref.Namespace + "/" + ref.Name
		case ref.Name != "":
			object += " " + ref.Name
		case ref.Namespace != "":
			object += " in " + ref.Namespace
		}
	}
	code, decision, reason := "-", ev.Annotations[AnnotationDecision], ""
	if decision == "" {
		decision = "-"
	}
	if s := ev.ResponseStatus; s != nil {
		code = strconv.Itoa(int(s.Code))
		if s.Code >= 400 {
			reason = ev.Annotations[AnnotationReason]
			if reason == "" {
				reason = s.Message
			}
		}
	}
	return strings.Join([]string{ev.RequestReceivedTimestamp.UTC().Format(time.RFC3339), user, ev.Verb, object, code, decision, reason}, "\t")
}
