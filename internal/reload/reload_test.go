package reload

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a loader that refuses "bad" and remembers what it applied.
type recorder struct {
	applied []string // "<missing>" for a load of an absent file
}

func (r *recorder) load(data []byte, exists bool) error {
	if !exists {
		r.applied = append(r.applied, "<missing>")
		return nil
	}
	if string(data) == "bad" {
		return errors.New("bad contents")
	}
	r.applied = append(r.applied, string(data))
	return nil
}

func (r *recorder) last() string {
	if len(r.applied) == 0 {
		return ""
	}
	return r.applied[len(r.applied)-1]
}

// replace writes data next to path and renames it into place, as tools
// that rotate files do, so every write is a new inode.
func replace(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestOptionalFileLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.crl")
	r := &recorder{}
	f := &File{Path: path, Load: r.load, Optional: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// Missing at start: a valid state, loaded as such.
	if err := f.check(true); err != nil || r.last() != "<missing>" {
		t.Fatalf("missing at start: err=%v applied=%v", err, r.applied)
	}
	// Still missing: nothing to do.
	if err := f.check(false); err != nil || len(r.applied) != 1 {
		t.Fatalf("still missing: err=%v applied=%v", err, r.applied)
	}
	// Created: loaded.
	replace(t, path, "v1")
	if err := f.check(false); err != nil || r.last() != "v1" {
		t.Fatalf("created: err=%v applied=%v", err, r.applied)
	}
	// Unchanged: not reloaded.
	if err := f.check(false); err != nil || len(r.applied) != 2 {
		t.Fatalf("unchanged: err=%v applied=%v", err, r.applied)
	}
	// Rewritten with the same bytes: not reloaded either.
	replace(t, path, "v1")
	if err := f.check(false); err != nil || len(r.applied) != 2 {
		t.Fatalf("same bytes: err=%v applied=%v", err, r.applied)
	}
	// A bad version is refused and the last good stays.
	replace(t, path, "bad")
	if err := f.check(false); err == nil || r.last() != "v1" {
		t.Fatalf("bad contents: err=%v applied=%v", err, r.applied)
	}
	// Fixed: loaded.
	replace(t, path, "v2")
	if err := f.check(false); err != nil || r.last() != "v2" {
		t.Fatalf("fixed: err=%v applied=%v", err, r.applied)
	}
	// Deleted after it was loaded: the last contents stay (a deleted CRL
	// must not clear every revocation), reported once.
	os.Remove(path)
	err := f.check(false)
	if err == nil || !strings.Contains(err.Error(), "was removed") || r.last() != "v2" {
		t.Fatalf("deleted: err=%v applied=%v", err, r.applied)
	}
	if err := f.check(false); err != nil || r.last() != "v2" {
		t.Fatalf("deleted, second look: err=%v applied=%v", err, r.applied)
	}
	// Back with new contents: loaded.
	replace(t, path, "v3")
	if err := f.check(false); err != nil || r.last() != "v3" {
		t.Fatalf("back: err=%v applied=%v", err, r.applied)
	}
}

func TestRequiredFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.csv")
	r := &recorder{}
	f := &File{Path: path, Load: r.load, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := f.check(true); err == nil {
		t.Fatal("a required file missing at start was accepted")
	}
	replace(t, path, "bad")
	if err := f.check(true); err == nil {
		t.Fatal("bad contents at start were accepted")
	}
	replace(t, path, "v1")
	if err := f.check(true); err != nil || r.last() != "v1" {
		t.Fatalf("start: err=%v applied=%v", err, r.applied)
	}
	os.Remove(path)
	if err := f.check(false); err == nil || r.last() != "v1" {
		t.Fatalf("deleted: err=%v applied=%v", err, r.applied)
	}
}
