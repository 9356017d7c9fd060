package apiserver

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// Watch frames are written by hand into the stream's buffer; the
// generated code of metav1.WatchEvent is the oracle for their bytes, for
// objects whose lengths take one, two and three bytes.
func TestProtobufWatchFrameMatchesGeneratedCode(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 70000} {
		object := bytes.Repeat([]byte{0xa5}, n)
		for _, typ := range []string{"ADDED", "MODIFIED", "BOOKMARK"} {
			ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: object}}
			evBody, err := ev.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			wantFrame := append(binary.BigEndian.AppendUint32(nil, uint32(len(evBody))), evBody...)
			var frame bytes.Buffer
			writeProtobufWatchFrame(&frame, typ, object)
			if !bytes.Equal(frame.Bytes(), wantFrame) {
				t.Fatalf("%s frame of %d bytes:\n got %x\nwant %x", typ, n, head(frame.Bytes()), head(wantFrame))
			}
		}
	}
}

func TestProtobufListMatchesGeneratedCode(t *testing.T) {
	res := catalog.ConfigMaps()
	list := &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "9", Continue: strings.Repeat("c", 200)}}
	var entries []*store.Entry
	for i := range 3 {
		cm := corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("n", 100*i+1), ResourceVersion: "5"}, Data: map[string]string{"k": strings.Repeat("v", 60*i)}}
		list.Items = append(list.Items, cm)
		e, err := store.EntryOf(res, &cm)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	raw, err := list.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}, Raw: raw}
	body, _ := u.Marshal()
	got, err := encodeProtobufList(res, list.ListMeta, entries)
	if err != nil || !bytes.Equal(got, append([]byte("k8s\x00"), body...)) {
		t.Fatalf("list: %v\n got %x\nwant k8s\\x00%x", err, got, body)
	}
	// One object, written in place.
	one, err := encodeProtobuf(res.GroupVersionKind(), &list.Items[2])
	raw2, _ := list.Items[2].Marshal()
	u2 := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, Raw: raw2}
	body2, _ := u2.Marshal()
	if err != nil || !bytes.Equal(one, append([]byte("k8s\x00"), body2...)) || cap(one) != len(one) {
		t.Fatalf("object: %v\n got %x\nwant k8s\\x00%x", err, one, body2)
	}
	if cap(got) != len(got) {
		t.Errorf("list: buffer of %d, %d used", cap(got), len(got))
	}
}

func head(b []byte) []byte { return b[:min(len(b), 48)] }
