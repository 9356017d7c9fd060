package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"

	"github.com/sekisho/sekisho/internal/audit"
)

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log: who did what to which object, when, and was it allowed",
	}
	cmd.AddCommand(newAuditQueryCommand(), newAuditTailCommand())
	return cmd
}

// auditFlags are the options query and tail share.
type auditFlags struct {
	dataDir, log, output string
	since, until         string
	filter               audit.Filter
}

func (a *auditFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&a.dataDir, "data-dir", defaultDataDir(), "the data directory of sekisho up, whose audit log is read")
	fs.StringVar(&a.log, "log", "", "the audit log (default DATA_DIR/audit/audit.log); its rotated copies beside it are read too")
	fs.StringVarP(&a.output, "output", "o", "table", "table, or json (the events as logged, one a line)")
	fs.StringVar(&a.filter.User, "user", "", "requests of this user, or made as this user by impersonation")
	fs.StringVar(&a.filter.Group, "group", "", "requests of users in this group")
	fs.StringVar(&a.filter.Verb, "verb", "", "requests with this verb (get, list, create, ...)")
	fs.StringVar(&a.filter.Resource, "resource", "", "requests for this resource: pods, pods/log, deployments.apps")
	fs.StringVar(&a.filter.Namespace, "namespace", "", "requests in this namespace")
	fs.StringVar(&a.filter.Name, "name", "", "requests for the object of this name")
	fs.StringVar(&a.since, "since", "", "requests received at or after this time: RFC 3339, or a duration ago (1h)")
	fs.StringVar(&a.until, "until", "", "requests received before this time: RFC 3339, or a duration ago")
	fs.StringVar(&a.filter.Decision, "decision", "", "allow or forbid: the authorizers' decision")
	fs.IntVar(&a.filter.Code, "code", 0, "requests answered with this HTTP status")
}

// prepare checks the flags and returns the log's path.
func (a *auditFlags) prepare() (string, error) {
	var err error
	if a.filter.Since, err = parseWhen("--since", a.since); err != nil {
		return "", err
	}
	if a.filter.Until, err = parseWhen("--until", a.until); err != nil {
		return "", err
	}
	switch a.filter.Decision {
	case "", "allow", "forbid":
	default:
		return "", fmt.Errorf("--decision: %q is not allow or forbid", a.filter.Decision)
	}
	if a.output != "table" && a.output != "json" {
		return "", fmt.Errorf("--output: %q is not table or json", a.output)
	}
	if a.log == "" {
		return filepath.Join(a.dataDir, "audit", "audit.log"), nil
	}
	return a.log, nil
}

func parseWhen(flag, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: cannot read %q: give RFC 3339 (2026-11-29T04:00:00Z) or a duration ago (90m)", flag, v)
}

// printer writes events as the output flag says.
type printer struct {
	json bool
	out  io.Writer
	tw   *tabwriter.Writer
}

func newPrinter(out io.Writer, output string) *printer {
	p := &printer{json: output == "json", out: out}
	if !p.json {
		p.tw = tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(p.tw, audit.TableHeader)
	}
	return p
}

func (p *printer) print(ev *auditv1.Event, line []byte) error {
	if p.json {
		_, err := p.out.Write(append(line, '\n'))
		return err
	}
	_, err := fmt.Fprintln(p.tw, audit.TableRow(ev))
	return err
}

func (p *printer) flush() {
	if p.tw != nil {
		p.tw.Flush()
	}
}

func newAuditQueryCommand() *cobra.Command {
	var a auditFlags
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Print the requests of the audit log that match every filter given",
		Long: `Reads the audit log and its rotated copies (gzipped ones too), oldest
first, and prints one row for each request that matches every filter:
when, who (and as whom), the verb, the object, the HTTP status, the
authorizers' decision and, for a refusal, why. It first waits (at most
2s) for the lines of requests already answered to reach the log from its
ring file. A line that is not an event, such as a last line cut short by
a crash, is skipped with a warning.`,
		Example: `  sekisho audit query --decision forbid --since 1h
  sekisho audit query --user alice --resource secrets --namespace prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := a.prepare()
			if err != nil {
				return err
			}
			warn := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+msg) }
			if err := audit.WaitForLog(path, logSettleTimeout); err != nil {
				warn(err.Error())
			}
			files, err := audit.LogFiles(path)
			if err != nil {
				return err
			}
			p := newPrinter(cmd.OutOrStdout(), a.output)
			defer p.flush()
			return audit.Scan(files, &a.filter, warn, p.print)
		},
	}
	a.register(cmd)
	return cmd
}

// logSettleTimeout is how long query and tail wait for the lines of
// requests already answered to reach the log from its ring file.
const logSettleTimeout = 2 * time.Second

func newAuditTailCommand() *cobra.Command {
	var a auditFlags
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the last requests of the audit log, and with -f those that follow",
		Example: `  sekisho audit tail -f --decision forbid
  sekisho audit tail -n 50 --user system:node:worker-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := a.prepare()
			if err != nil {
				return err
			}
			if lines < 0 {
				return fmt.Errorf("--lines: must be 0 or more, not %d", lines)
			}
			warn := func(msg string) { fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+msg) }
			type match struct {
				ev   *auditv1.Event
				line []byte
			}
			var last []match
			if err := audit.WaitForLog(path, logSettleTimeout); err != nil {
				warn(err.Error())
			}
			files, err := audit.LogFiles(path)
			if err != nil && !follow {
				return err
			}
			if err == nil {
				if err := audit.Scan(files[len(files)-1:], &a.filter, warn, func(ev *auditv1.Event, line []byte) error {
					last = append(last, match{ev, bytes.Clone(line)})
					if len(last) > lines {
						last = last[1:]
					}
					return nil
				}); err != nil {
					return err
				}
			}
			p := newPrinter(cmd.OutOrStdout(), a.output)
			for _, m := range last {
				p.print(m.ev, m.line)
			}
			p.flush()
			if !follow {
				return nil
			}
			return followLog(cmd.Context(), path, &a.filter, p, warn)
		},
	}
	a.register(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing requests as they are logged, across rotations")
	cmd.Flags().IntVarP(&lines, "lines", "n", 10, "how many of the last requests to print first")
	return cmd
}

// followLog prints what is appended to the log from its current end,
// reopening it when it is rotated, until ctx ends.
func followLog(ctx context.Context, path string, f *audit.Filter, p *printer, warn func(string)) error {
	var fh *os.File
	var r *bufio.Reader
	var partial []byte
	open := func(atEnd bool) {
		if fh != nil {
			fh.Close()
		}
		fh, r, partial = nil, nil, nil
		h, err := os.Open(path)
		if err != nil {
			return
		}
		if atEnd {
			h.Seek(0, io.SeekEnd)
		}
		fh, r = h, bufio.NewReader(h)
	}
	open(true)
	defer func() {
		if fh != nil {
			fh.Close()
		}
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for r != nil {
			line, err := r.ReadBytes('\n')
			partial = append(partial, line...)
			if err != nil { // the end, perhaps in the middle of a line still being written
				break
			}
			if ev, ok := audit.DecodeEvent(bytes.TrimSuffix(partial, []byte("\n"))); !ok {
				warn(fmt.Sprintf("%s: skipped a line that is not an audit event", path))
			} else if f.Matches(ev) {
				if err := p.print(ev, bytes.TrimSuffix(partial, []byte("\n"))); err != nil {
					return err
				}
			}
			partial = nil
		}
		p.flush()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// Rotated: the path is now another file, or the file shrank.
		if info, err := os.Stat(path); err == nil {
			if fh == nil {
				open(false)
				continue
			}
			cur, err := fh.Stat()
			pos, _ := fh.Seek(0, io.SeekCurrent)
			if err != nil || !os.SameFile(info, cur) || info.Size() < pos {
				open(false)
			}
		}
	}
}
