package watchqueue

import (
	"testing"

	"github.com/sekisho/sekisho/internal/storage"
)

func txn(rev int64, n int) []storage.Event {
	events := make([]storage.Event, n)
	for i := range events {
		events[i] = storage.Event{Type: storage.EventAdded, Rev: rev, More: i < n-1}
	}
	return events
}

// A queue takes whole transactions or stops; once stopped it delivers
// what it holds and closes.
func TestQueueStopsWhenFull(t *testing.T) {
	q := New(4, 0)
	if !q.Push(txn(1, 6)) {
		t.Fatal("an empty queue refused a transaction larger than its bound")
	}
	if q.Push(txn(2, 1)) {
		t.Fatal("a queue over its bound took more")
	}
	if q.Push(txn(3, 1)) {
		t.Fatal("a stopped queue took more")
	}
	go q.Run(t.Context())
	var revs []int64
	for ev := range q.Events() {
		revs = append(revs, ev.Rev)
	}
	if len(revs) != 6 || revs[5] != 1 {
		t.Fatalf("delivered %v, want the first transaction's six events", revs)
	}
}

// Progress notes queued behind events move on rather than pile up, and
// come after the events before them.
func TestQueueProgressFollowsEvents(t *testing.T) {
	q := New(100, 10)
	q.Push(txn(5, 2))
	q.Progress(6)
	q.Progress(7)
	q.Push(txn(8, 1))
	q.Progress(9)
	q.Stop()
	go q.Run(t.Context())
	var got []string
	for ev := range q.Events() {
		got = append(got, ev.Type.String()+"@"+string(rune('0'+ev.Rev)))
	}
	want := []string{"ADDED@5", "ADDED@5", "PROGRESS@7", "ADDED@8", "PROGRESS@9"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
