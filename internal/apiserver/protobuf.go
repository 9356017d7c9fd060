package apiserver

import (
	"encoding/binary"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
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

// protobufEnvelope wraps an encoded object or list in the magic prefix
// and a runtime.Unknown naming its type.
func protobufEnvelope(gvk schema.GroupVersionKind, raw []byte) ([]byte, error) {
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: apiVersion, Kind: kind}, Raw: raw}
	body, err := u.Marshal()
	if err != nil {
		return nil, err
	}
	return append(append(make([]byte, 0, len(protobufMagic)+len(body)), protobufMagic...), body...), nil
}

// encodeProtobuf encodes one object of kind gvk with its envelope.
func encodeProtobuf(gvk schema.GroupVersionKind, obj any) ([]byte, error) {
	raw, err := marshalProto(obj)
	if err != nil {
		return nil, err
	}
	return protobufEnvelope(gvk, raw)
}

// appendProtoBytes appends a length-delimited field (wire type 2).
func appendProtoBytes(b []byte, field int, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// encodeProtobufList encodes stored objects as the resource's list kind.
func encodeProtobufList(res *catalog.Resource, lm metav1.ListMeta, items []*store.Entry) ([]byte, error) {
	meta, err := lm.Marshal()
	if err != nil {
		return nil, err
	}
	raw := appendProtoBytes(nil, 1, meta)
	for _, e := range items {
		item, err := e.Encoded("protobuf item", func(obj catalog.Object) ([]byte, error) { return marshalProto(obj) })
		if err != nil {
			return nil, err
		}
		raw = appendProtoBytes(raw, 2, item)
	}
	return protobufEnvelope(res.GroupVersion.WithKind(res.ListKind()), raw)
}

// protobufWatchFrame encodes one watch event as a length-prefixed frame
// around an enveloped object.
func protobufWatchFrame(eventType string, object []byte) ([]byte, error) {
	ev := metav1.WatchEvent{Type: eventType, Object: runtime.RawExtension{Raw: object}}
	body, err := ev.Marshal()
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...), nil
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
