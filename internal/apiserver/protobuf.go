package apiserver

import (
	"bytes"
	"encoding/binary"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/kubeproto"
	"github.com/sekisho/sekisho/internal/store"
)

// Kubernetes' protobuf wire format, as client-go reads it:
//
//   - an object is the 4-byte magic "k8s\x00" followed by a runtime.Unknown
//     whose TypeMeta names the object's apiVersion and kind and whose Raw
//     holds the object's own generated protobuf encoding;
//   - a list is enveloped the same way; its Raw is the list type's
//     encoding, which for every built-in list is ListMeta as field 1 and
//     each item as a repeated field 2;
//   - a watch stream is a sequence of frames, each a 4-byte big-endian
//     length and a metav1.WatchEvent with no envelope, whose object is an
//     enveloped object.

// protoMarshaler is implemented by the generated protobuf code of every
// k8s.io/api type.
type protoMarshaler interface{ Marshal() ([]byte, error) }

// watchProtobufContentType is the Content-Type of a protobuf watch stream.
const watchProtobufContentType = protobufContentType + ";stream=watch"

// marshalProto encodes a value that has generated protobuf code.
func marshalProto(v any) ([]byte, error) {
	m, ok := v.(protoMarshaler)
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", v)
	}
	return m.Marshal()
}

// encodeProtobuf encodes one object of kind gvk with its envelope.
func encodeProtobuf(gvk schema.GroupVersionKind, obj any) ([]byte, error) {
	return kubeproto.Encode(gvk, obj)
}

// encodeProtobufList encodes stored objects as the resource's list kind.
// The items are encoded first (each once per entry, and shared), so that
// the list is written into one buffer of its exact size.
func encodeProtobufList(res *catalog.Resource, lm metav1.ListMeta, items []*store.Entry) ([]byte, error) {
	meta, err := lm.Marshal()
	if err != nil {
		return nil, err
	}
	encoded := make([][]byte, len(items))
	rawLen := kubeproto.FieldSize(1, len(meta))
	for i, e := range items {
		if encoded[i], err = e.Encoded("protobuf item", func(obj catalog.Object) ([]byte, error) { return marshalProto(obj) }); err != nil {
			return nil, err
		}
		rawLen += kubeproto.FieldSize(2, len(encoded[i]))
	}
	env := kubeproto.NewEnvelope(res.GroupVersion.WithKind(res.ListKind()), rawLen)
	b := kubeproto.AppendBytes(env.Open(), 1, meta)
	for _, item := range encoded {
		b = kubeproto.AppendBytes(b, 2, item)
	}
	return env.Close(b), nil
}

// writeProtobufWatchFrame writes one watch event as a length-prefixed
// frame: a metav1.WatchEvent (type as field 1, and as field 2 a
// RawExtension whose field 1 is the enveloped object), encoded straight
// into buf.
func writeProtobufWatchFrame(buf *bytes.Buffer, eventType string, object []byte) {
	rawExt := kubeproto.FieldSize(1, len(object))
	body := kubeproto.FieldSize(1, len(eventType)) + kubeproto.FieldSize(2, rawExt)
	var head [4 + 3*2*binary.MaxVarintLen64]byte
	h := binary.BigEndian.AppendUint32(head[:0], uint32(body))
	h = kubeproto.AppendBytes(h, 1, []byte(eventType))
	h = binary.AppendUvarint(h, 2<<3|2)
	h = binary.AppendUvarint(h, uint64(rawExt))
	h = binary.AppendUvarint(h, 1<<3|2)
	h = binary.AppendUvarint(h, uint64(len(object)))
	buf.Grow(len(h) + len(object))
	buf.Write(h)
	buf.Write(object)
}

// protobufBookmark is a bookmark's object: an empty object of the
// resource's kind carrying only the revision (and, at the end of the
// initial events, the annotation saying so).
func protobufBookmark(res *catalog.Resource, rev int64, initialEnd bool) ([]byte, error) {
	obj := res.New()
	obj.SetResourceVersion(fmt.Sprint(rev))
	if initialEnd {
		obj.SetAnnotations(map[string]string{store.AnnotationInitialEventsEnd: "true"})
	}
	return encodeProtobuf(res.GroupVersionKind(), obj)
}
