package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A shell example in the documentation: a ```sh block of README.md or
// docs/*.md. ```text blocks are synopses and output, not run.
type docBlock struct {
	file   string
	line   int // of the opening fence
	text   string
	skip   string // why it is not run, from <!-- docs-test: skip: WHY -->
	number int    // of the block in its file
}

var skipMarker = regexp.MustCompile(`^<!-- docs-test: skip: (.+) -->$`)

// docBlocks reads every shell example of the file.
func docBlocks(t *testing.T, file, name string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []docBlock
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		b := docBlock{file: name, line: i + 1, number: len(out) + 1}
		if i > 0 {
			if m := skipMarker.FindStringSubmatch(lines[i-1]); m != nil {
				b.skip = m[1]
			}
		}
		j := i + 1
		for ; j < len(lines) && lines[j] != "```"; j++ {
		}
		b.text = strings.Join(lines[i+1:j], "\n")
		out = append(out, b)
		i = j
	}
	return out
}

// A command of a block: one line, or several joined by a trailing
// backslash or a here-document.
type docCommand struct {
	line     int // in the file
	text     string
	wantExit int
}

// wantExit is a command's documented exit status: "(exits N)" in its
// comment; 0 otherwise.
var wantExitRE = regexp.MustCompile(`\(exits (\d+)\)`)

var heredocRE = regexp.MustCompile(`<<-?\s*'?"?(\w+)'?"?`)

func (b docBlock) commands() []docCommand {
	lines := strings.Split(b.text, "\n")
	var out []docCommand
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		start := i
		for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
			i++
		}
		if m := heredocRE.FindStringSubmatch(lines[start]); m != nil {
			for i+1 < len(lines) && strings.TrimSpace(lines[i]) != m[1] {
				i++
			}
		}
		c := docCommand{line: b.line + 1 + start, text: strings.Join(lines[start:i+1], "\n")}
		if m := wantExitRE.FindStringSubmatch(lines[start]); m != nil {
			c.wantExit, _ = strconv.Atoi(m[1])
		}
		out = append(out, c)
	}
	return out
}

// script turns the block into a bash script that runs each command and
// stops at the first whose exit status is not the documented one.
func (b docBlock) script(subst *strings.Replacer) string {
	var s strings.Builder
	s.WriteString("set -o pipefail\n")
	for _, c := range b.commands() {
		fmt.Fprintf(&s, "echo %s >&2\n", shellQuoteArg(fmt.Sprintf("$ %s:%d: %s", b.file, c.line, strings.SplitN(c.text, "\n", 2)[0])))
		s.WriteString(subst.Replace(c.text))
		fmt.Fprintf(&s, "\n__rc=$?\nif [ $__rc -ne %d ]; then echo %s\"$__rc, want %d\" >&2; exit 97; fi\n",
			c.wantExit, shellQuoteArg(fmt.Sprintf("docs-test: %s:%d: exit ", b.file, c.line)), c.wantExit)
	}
	return s.String()
}

func shellQuoteArg(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestDocsCommands runs every shell example of README.md and docs/*.md
// against a real server, each file against its own: the docs cannot drift
// from what sekisho does. A block that cannot run here says why, in a
// <!-- docs-test: skip: WHY --> line above it. In the commands, DIR and
// /tmp/perf stand for the server's data directory (also at
// ~/.local/share/sekisho, where up keeps it), /etc/kubernetes for a
// scratch directory, and 127.0.0.1:6443 and :17445 for the server's
// address; KUBECONFIG is the server's admin.conf, as the README tells
// the reader to set it.
func TestDocsCommands(t *testing.T) {
	requireTools(t, "kubectl", "openssl", "curl", "base64")
	root := filepath.Join("..", "..")
	files := []string{filepath.Join(root, "README.md")}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, docs...)
	ran, skipped := 0, 0
	for _, file := range files {
		name, _ := filepath.Rel(root, file)
		blocks := docBlocks(t, file, name)
		runnable := 0
		for _, b := range blocks {
			if b.skip == "" {
				runnable++
			}
		}
		if runnable == 0 {
			skipped += len(blocks)
			continue
		}
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			s := &server{t: t, dir: filepath.Join(home, ".local", "share", "sekisho"), port: freePort(t), cache: t.TempDir()}
			s.start()
			t.Cleanup(s.stop)
			work := t.TempDir()
			subst := strings.NewReplacer(
				"/etc/kubernetes", filepath.Join(work, "etc-kubernetes"),
				"/tmp/perf", s.dir,
				"127.0.0.1:6443", fmt.Sprintf("127.0.0.1:%d", s.port),
				"127.0.0.1:17445", fmt.Sprintf("127.0.0.1:%d", s.port),
				" DIR ", " "+s.dir+" ", " DIR/", " "+s.dir+"/", " DIR\n", " "+s.dir+"\n",
			)
			for _, b := range blocks {
				if b.skip != "" {
					skipped++
					continue
				}
				ran++
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				cmd := exec.CommandContext(ctx, "bash", "-c", b.script(subst))
				cmd.Dir = work
				cmd.Env = append(filterEnv(os.Environ(), "HOME", "KUBECONFIG", "XDG_DATA_HOME", "KUBECACHEDIR"),
					"HOME="+home, "KUBECONFIG="+filepath.Join(s.dir, "admin.conf"), "KUBECACHEDIR="+s.cache,
					"PATH="+filepath.Dir(sekishoBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
				out, err := cmd.CombinedOutput()
				cancel()
				if err != nil {
					t.Errorf("%s:%d (block %d): %v\n%s", name, b.line, b.number, err, out)
				} else if testing.Verbose() {
					t.Logf("%s:%d:\n%s", name, b.line, out)
				}
			}
		})
	}
	t.Logf("ran %d shell examples; %d are marked as not runnable here", ran, skipped)
}
