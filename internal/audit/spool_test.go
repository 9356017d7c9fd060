package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func drain(t *testing.T, s *Spool, batch int) []string {
	t.Helper()
	var out []string
	for {
		records, next, err := s.Peek(batch, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if len(records) == 0 {
			return out
		}
		for _, r := range records {
			out = append(out, string(r))
		}
		if err := s.Commit(next); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolKeepsOrderAcrossFilesAndRestarts(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	// Records of 100 KiB: 8 MiB files hold about 80 each.
	pad := strings.Repeat("x", 100<<10)
	var want []string
	for i := range 200 {
		r := fmt.Sprintf("%04d %s", i, pad)
		want = append(want, r)
		if _, err := s.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
	if len(files) < 3 {
		t.Fatalf("%d files for 20 MiB", len(files))
	}
	// Deliver 50, then restart: the rest comes next, in order.
	records, next, err := s.Peek(50, 1<<30)
	if err != nil || len(records) != 50 {
		t.Fatalf("peek: %d, %v", len(records), err)
	}
	if err := s.Commit(next); err != nil {
		t.Fatal(err)
	}
	// Peeked but not committed: delivered again after a restart.
	if again, _, _ := s.Peek(10, 1<<30); len(again) != 10 || string(again[0]) != want[50] {
		t.Fatalf("after 50 committed, the next is %.4s", again[0])
	}
	s.Close()
	s, err = OpenSpool(dir, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, s, 33)
	if len(got) != 150 {
		t.Fatalf("%d records after the restart, want 150", len(got))
	}
	for i, r := range got {
		if r != want[50+i] {
			t.Fatalf("record %d is %.4s, want %.4s", i, r, want[50+i])
		}
	}
	if s.Held() != 0 {
		t.Errorf("%d bytes held after everything was delivered", s.Held())
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*.spool"))
	if len(files) != 1 {
		t.Errorf("delivered files are kept: %v", files)
	}
	s.Close()
}

func TestSpoolIsBoundedAndDropsAPartialRecord(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.Append([]byte(fmt.Sprintf("record-%012d", i))); err != nil { // 20 bytes with the newline
			t.Fatal(err)
		}
	}
	if _, err := s.Append([]byte("one more")); err != ErrSpoolFull {
		t.Fatalf("a sixth record in 100 bytes: %v", err)
	}
	records, next, _ := s.Peek(2, 1<<30)
	if err := s.Commit(next); err != nil || len(records) != 2 {
		t.Fatal(err)
	}
	if _, err := s.Append([]byte("room again")); err != nil {
		t.Fatalf("after delivery: %v", err)
	}
	s.Close()
	// A crash in the middle of a write leaves part of a record.
	files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
	f, err := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"Ev`)
	f.Close()
	s, err = OpenSpool(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := drain(t, s, 10)
	if strings.Join(got, ",") != "record-000000000002,record-000000000003,record-000000000004,room again" {
		t.Errorf("after the crash: %q", got)
	}
	info, _ := os.Stat(files[len(files)-1])
	if info.Mode().Perm() != 0o600 {
		t.Errorf("spool file mode %v", info.Mode().Perm())
	}
}
