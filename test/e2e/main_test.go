// Package e2e drives a real sekisho binary with real openssl and kubectl.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/test/sources"
)

// sekishoBin is the binary under test, built once by TestMain.
var sekishoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sekisho-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sekishoBin = filepath.Join(dir, "sekisho")
	build := exec.Command("go", "build", "-o", sekishoBin, "github.com/sekisho/sekisho/cmd/sekisho")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sekisho:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSourcesRecorded makes a change to the product rerun these tests
// (see package sources).
func TestSourcesRecorded(t *testing.T) { sources.Record(filepath.Join("..", "..")) }

// requireTools skips the test when a tool is missing, except under CI,
// where a missing tool is a failure.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI but not on PATH", tool)
			}
			t.Skipf("%s not on PATH", tool)
		}
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes a command and returns its output and exit status.
func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Logf("SLOW %s %s: %s", name, strings.Join(args, " "), d)
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), code}
}

// must runs a command that must succeed and returns its stdout.
func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := run(t, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func sekisho(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, sekishoBin, args...)
}

func mustSekisho(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, sekishoBin, args...)
}
