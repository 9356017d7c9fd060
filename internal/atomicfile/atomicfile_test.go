package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteAllWritesWithModes(t *testing.T) {
	dir := t.TempDir()
	err := WriteAll([]File{
		{Path: filepath.Join(dir, "a.key"), Data: []byte("secret"), Mode: 0o600},
		{Path: filepath.Join(dir, "a.crt"), Data: []byte("public"), Mode: 0o644},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{"a.key": 0o600, "a.crt": 0o644} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), mode)
		}
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("temporary files left behind: %v", got)
	}
}

func TestWriteAllIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	// A temporary file that cannot be created: nothing is written.
	err := WriteAll([]File{
		{Path: filepath.Join(dir, "first"), Data: []byte("1"), Mode: 0o600},
		{Path: filepath.Join(dir, "missing-dir", "second"), Data: []byte("2"), Mode: 0o600},
	})
	if err == nil || !strings.Contains(err.Error(), "missing-dir/second") {
		t.Fatalf("got %v", err)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("left %v", got)
	}

	// A file that must not be overwritten exists: files created and replaced
	// earlier in the set are put back.
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), []byte("old CA key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "leaf.crt"), []byte("old leaf"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteAll([]File{
		{Path: filepath.Join(dir, "new.crt"), Data: []byte("new"), Mode: 0o644},
		{Path: filepath.Join(dir, "leaf.crt"), Data: []byte("new leaf"), Mode: 0o644, Replace: true},
		{Path: filepath.Join(dir, "ca.key"), Data: []byte("clobber"), Mode: 0o600},
	})
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("got %v", err)
	}
	if got := read(t, filepath.Join(dir, "ca.key")); got != "old CA key" {
		t.Errorf("CA key is %q", got)
	}
	if got := read(t, filepath.Join(dir, "leaf.crt")); got != "old leaf" {
		t.Errorf("replaced file not restored: %q", got)
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("left %v, want only ca.key and leaf.crt", got)
	}

	// Replace succeeds when allowed.
	if err := WriteFile(filepath.Join(dir, "leaf.crt"), []byte("renewed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "leaf.crt")); got != "renewed" {
		t.Errorf("leaf is %q", got)
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("backup or temp files left behind: %v", got)
	}
}
