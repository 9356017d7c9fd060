package apiserver

import (
	"bytes"
	"encoding/binary"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	env := newEnvelope(gvk, len(raw))
	return env.close(append(env.open(), raw...)), nil
}

// envelope writes the magic prefix and a runtime.Unknown around a Raw of
// known length, in one buffer: its bytes are those of Unknown.Marshal
// (TypeMeta, Raw, then the empty contentEncoding and contentType that
// generated code always writes), without building Raw apart first.
type envelope struct {
	typeMeta []byte // TypeMeta's encoding
	rawLen   int
}

func newEnvelope(gvk schema.GroupVersionKind, rawLen int) envelope {
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	tm := appendProtoBytes(nil, 1, []byte(apiVersion))
	tm = appendProtoBytes(tm, 2, []byte(kind))
	return envelope{typeMeta: tm, rawLen: rawLen}
}

// envelopeTail is an empty contentEncoding (field 3) and contentType (field 4).
var envelopeTail = []byte{3<<3 | 2, 0, 4<<3 | 2, 0}

// open returns a buffer of the envelope's full size holding everything
// before Raw; the caller appends exactly rawLen bytes of Raw, then close.
func (e envelope) open() []byte {
	size := len(protobufMagic) + protoFieldSize(1, len(e.typeMeta)) + protoFieldSize(2, e.rawLen) + len(envelopeTail)
	b := append(make([]byte, 0, size), protobufMagic...)
	b = appendProtoBytes(b, 1, e.typeMeta)
	b = binary.AppendUvarint(b, 2<<3|2)
	return binary.AppendUvarint(b, uint64(e.rawLen))
}

func (e envelope) close(b []byte) []byte { return append(b, envelopeTail...) }

// protoFieldSize is the size of a length-delimited field of n bytes.
func protoFieldSize(field, n int) int {
	return uvarintSize(uint64(field)<<3|2) + uvarintSize(uint64(n)) + n
}

func uvarintSize(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// sizedMarshaler is generated code that marshals into a buffer it is given.
type sizedMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// encodeProtobuf encodes one object of kind gvk with its envelope, the
// object written in place inside the envelope when its code allows.
func encodeProtobuf(gvk schema.GroupVersionKind, obj any) ([]byte, error) {
	if m, ok := obj.(sizedMarshaler); ok {
		size := m.Size()
		env := newEnvelope(gvk, size)
		b := env.open()
		at := len(b)
		b = b[:at+size]
		n, err := m.MarshalToSizedBuffer(b[at:])
		if err != nil {
			return nil, err
		}
		if n != size {
			return nil, fmt.Errorf("%T: protobuf of %d bytes, %d expected", obj, n, size)
		}
		return env.close(b), nil
	}
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
// The items are encoded first (each once per entry, and shared), so that
// the list is written into one buffer of its exact size.
func encodeProtobufList(res *catalog.Resource, lm metav1.ListMeta, items []*store.Entry) ([]byte, error) {
	meta, err := lm.Marshal()
	if err != nil {
		return nil, err
	}
	encoded := make([][]byte, len(items))
	rawLen := protoFieldSize(1, len(meta))
	for i, e := range items {
		if encoded[i], err = e.Encoded("protobuf item", func(obj catalog.Object) ([]byte, error) { return marshalProto(obj) }); err != nil {
			return nil, err
		}
		rawLen += protoFieldSize(2, len(encoded[i]))
	}
	env := newEnvelope(res.GroupVersion.WithKind(res.ListKind()), rawLen)
	b := appendProtoBytes(env.open(), 1, meta)
	for _, item := range encoded {
		b = appendProtoBytes(b, 2, item)
	}
	return env.close(b), nil
}

// writeProtobufWatchFrame writes one watch event as a length-prefixed
// frame: a metav1.WatchEvent (type as field 1, and as field 2 a
// RawExtension whose field 1 is the enveloped object), encoded straight
// into buf.
func writeProtobufWatchFrame(buf *bytes.Buffer, eventType string, object []byte) {
	rawExt := protoFieldSize(1, len(object))
	body := protoFieldSize(1, len(eventType)) + protoFieldSize(2, rawExt)
	var head [4 + 3*2*binary.MaxVarintLen64]byte
	h := binary.BigEndian.AppendUint32(head[:0], uint32(body))
	h = appendProtoBytes(h, 1, []byte(eventType))
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
