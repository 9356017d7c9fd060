package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

func TestAppendEventIsJSONMarshal(t *testing.T) {
	full := testEvent("full")
	bare := &auditv1.Event{Level: auditv1.LevelMetadata}
	empties := testEvent("empties")
	empties.User = authnv1.UserInfo{Groups: []string{}, Extra: map[string]authnv1.ExtraValue{"nil": nil, "empty": {}}}
	empties.ObjectRef = &auditv1.ObjectReference{}
	empties.ResponseStatus = &metav1.Status{}
	empties.SourceIPs = []string{}
	empties.Annotations = map[string]string{}
	rich := testEvent("rich")
	rich.ResponseStatus = &metav1.Status{Status: "Failure", Code: 404, Reason: metav1.StatusReasonNotFound,
		Details: &metav1.StatusDetails{Name: "x", Kind: "pods"}, Message: `pods "x" not found`}
	rich.AuthenticationMetadata = &auditv1.AuthenticationMetadata{}
	for name, ev := range map[string]*auditv1.Event{"full": full, "bare": bare, "empties": empties, "rich": rich} {
		want, wantErr := json.Marshal(ev)
		got, gotErr := AppendEvent(nil, ev)
		if (wantErr != nil) != (gotErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("%s:\nAppendEvent  %s (%v)\njson.Marshal %s (%v)", name, got, gotErr, want, wantErr)
		}
	}
	broken := testEvent("broken")
	broken.RequestObject = &runtime.Unknown{Raw: []byte(`{"a":`)}
	if _, err := AppendEvent(nil, broken); err == nil {
		t.Error("an object that is not JSON was encoded")
	}
}

// FuzzAppendEvent: for any strings in an event's fields, AppendEvent
// writes what json.Marshal writes.
func FuzzAppendEvent(f *testing.F) {
	f.Add("alice", "/api/v1/pods?a=<b>&c", "kubectl/v1.37 \u2028 \"q\"", "team\x00\x1f\x7f", "ns", "\xff\xfe bad utf-8", `{"a": [1, 2, "<>"] }`, int32(403), int64(1764391201123456))
	f.Add("", "", "", "", "", "", `null`, int32(0), int64(0))
	f.Fuzz(func(t *testing.T, user, uri, agent, group, ns, annotation, object string, code int32, micros int64) {
		ev := testEvent("fuzz")
		ev.User.Username, ev.RequestURI, ev.UserAgent, ev.ObjectRef.Namespace = user, uri, agent, ns
		ev.User.Groups = []string{group, annotation}
		ev.User.Extra = map[string]authnv1.ExtraValue{annotation: {user}, group: nil}
		ev.Annotations = map[string]string{annotation: agent, uri: ""}
		ev.ResponseStatus = &metav1.Status{Code: code, Message: annotation, Reason: metav1.StatusReason(group)}
		ev.RequestObject = &runtime.Unknown{Raw: []byte(object)}
		ev.StageTimestamp = metav1.NewMicroTime(time.UnixMicro(micros))
		want, wantErr := json.Marshal(ev)
		got, gotErr := AppendEvent(nil, ev)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("errors: AppendEvent %v, json.Marshal %v", gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("\nAppendEvent  %s\njson.Marshal %s", got, want)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := testEvent("bench")
	ev.RequestObject, ev.ResponseObject = nil, nil
	b.Run("AppendEvent", func(b *testing.B) {
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf, _ = AppendEvent(buf[:0], ev)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(ev)
		}
	})
}

// The hand-written timestamps are metav1's: random instants across four
// centuries, the edges of the years written in four digits, and beyond.
func TestAppendMicroTimeIsMetav1s(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	times := []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0).In(time.FixedZone("x", 3600))}
	for range 10000 {
		times = append(times, time.UnixMicro(rng.Int64N(400*365*86400*1e6)-200*365*86400*1e6).Add(time.Duration(rng.IntN(1000))))
	}
	for _, tm := range times {
		mt := metav1.NewMicroTime(tm)
		want, err := json.Marshal(mt)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendMicroTime(nil, mt); !bytes.Equal(got, want) {
			t.Fatalf("%v: %s, metav1 writes %s", tm, got, want)
		}
	}
}
