package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.KV {
		s, err := Open(Options{Path: filepath.Join(t.TempDir(), "db"), ProgressInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	r1, _ := s.Create(ctx, "/k/a", []byte("a"))
	r2, _ := s.Update(ctx, "/k/a", []byte("b"), r1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/k/x", nil); err != storage.ErrClosed {
		t.Fatalf("write after close: %v", err)
	}
	s, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rev, _ := s.Rev(ctx); rev != r2 {
		t.Fatalf("revision after reopen %d, want %d", rev, r2)
	}
	item, err := s.Get(ctx, "/k/a")
	if err != nil || string(item.Value) != "b" || item.ModRev != r2 || item.CreateRev != r1 {
		t.Fatalf("after reopen: %+v %v", item, err)
	}
	// History before the restart is gone: resuming from it must relist.
	if _, err := s.Watch(ctx, "/k/", r1); err != storage.ErrCompacted {
		t.Fatalf("watch from before restart: %v", err)
	}
	w, err := s.Watch(ctx, "/k/", r2)
	if err != nil {
		t.Fatal(err)
	}
	r3, _ := s.Create(ctx, "/k/b", []byte("c"))
	for e := range w {
		if e.Type == storage.EventProgress {
			continue
		}
		if e.Rev != r3 || r3 != r2+1 {
			t.Fatalf("event %+v, want rev %d", e, r2+1)
		}
		break
	}
	if _, err := Open(Options{Path: path}); err == nil {
		t.Fatal("a second Open of a locked file succeeded")
	}
}

func TestWindowBoundsHistory(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "db"), WindowEvents: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	first, _ := s.Create(ctx, "/k/0", nil)
	for i := 1; i < 10; i++ {
		if _, err := s.Create(ctx, "/k/"+string(rune('0'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Watch(ctx, "/k/", first); err != storage.ErrCompacted {
		t.Fatalf("watch from an evicted revision: %v", err)
	}
	if _, err := s.List(ctx, "/k/", storage.ListOptions{Rev: first}); err != storage.ErrCompacted {
		t.Fatalf("list at an evicted revision: %v", err)
	}
	if _, err := s.Watch(ctx, "/k/", first+5); err != nil {
		t.Fatalf("watch within the window: %v", err)
	}
}

func TestSlowWatcherIsClosedNotBlocking(t *testing.T) {
	s, err := Open(Options{Path: filepath.Join(t.TempDir(), "db"), WindowEvents: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.win.maxQueue = 20
	ctx := t.Context()
	w, err := s.Watch(ctx, "/k/", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads w; writes must still complete.
	for i := range 200 {
		if _, err := s.Create(ctx, "/k/"+time.Duration(i).String(), nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range w {
		n++
	}
	if n == 0 || n >= 200 {
		t.Fatalf("slow watcher received %d events before closing, want some but not all", n)
	}
}
