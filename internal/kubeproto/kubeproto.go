// Package kubeproto is Kubernetes' protobuf envelope: the 4-byte magic
// "k8s\x00", then a runtime.Unknown naming the apiVersion and kind and
// holding the object's own generated protobuf as Raw. kube-apiserver
// serves built-in types in it and stores them in etcd in it; so does
// sekisho (internal/apiserver, internal/store).
package kubeproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Magic begins every enveloped message.
var Magic = []byte("k8s\x00")

// IsEnveloped reports whether data begins with the envelope's magic.
func IsEnveloped(data []byte) bool { return bytes.HasPrefix(data, Magic) }

// ErrNoMagic is Unwrap's error for data that is not enveloped.
var ErrNoMagic = errors.New("no Kubernetes protobuf envelope prefix")

// Unwrap reads the envelope; its Raw aliases data.
func Unwrap(data []byte) (runtime.Unknown, error) {
	var u runtime.Unknown
	if !IsEnveloped(data) {
		return u, ErrNoMagic
	}
	err := u.Unmarshal(data[len(Magic):])
	return u, err
}

// Envelope writes the magic and a runtime.Unknown around a Raw of known
// length, in one buffer: its bytes are those of Unknown.Marshal
// (TypeMeta, Raw, then the empty contentEncoding and contentType that
// generated code always writes), without building Raw apart first.
type Envelope struct {
	typeMeta []byte // TypeMeta's encoding
	rawLen   int
}

// NewEnvelope is the envelope of a Raw of rawLen bytes of kind gvk.
func NewEnvelope(gvk schema.GroupVersionKind, rawLen int) Envelope {
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	tm := AppendBytes(nil, 1, []byte(apiVersion))
	tm = AppendBytes(tm, 2, []byte(kind))
	return Envelope{typeMeta: tm, rawLen: rawLen}
}

// tail is an empty contentEncoding (field 3) and contentType (field 4).
var tail = []byte{3<<3 | 2, 0, 4<<3 | 2, 0}

// Open returns a buffer of the envelope's full size holding everything
// before Raw; the caller appends exactly rawLen bytes of Raw, then Close.
func (e Envelope) Open() []byte {
	size := len(Magic) + FieldSize(1, len(e.typeMeta)) + FieldSize(2, e.rawLen) + len(tail)
	b := append(make([]byte, 0, size), Magic...)
	b = AppendBytes(b, 1, e.typeMeta)
	b = binary.AppendUvarint(b, 2<<3|2)
	return binary.AppendUvarint(b, uint64(e.rawLen))
}

// Close ends the envelope Open began.
func (e Envelope) Close(b []byte) []byte { return append(b, tail...) }

// Wrap envelopes an encoded object or list of kind gvk.
func Wrap(gvk schema.GroupVersionKind, raw []byte) []byte {
	env := NewEnvelope(gvk, len(raw))
	return env.Close(append(env.Open(), raw...))
}

// sizedMarshaler is generated code that marshals into a buffer it is given.
type sizedMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

type marshaler interface{ Marshal() ([]byte, error) }

// Encode envelopes obj, of kind gvk, writing its protobuf in place inside
// the envelope when its generated code allows.
func Encode(gvk schema.GroupVersionKind, obj any) ([]byte, error) {
	if m, ok := obj.(sizedMarshaler); ok {
		size := m.Size()
		env := NewEnvelope(gvk, size)
		b := env.Open()
		at := len(b)
		b = b[:at+size]
		n, err := m.MarshalToSizedBuffer(b[at:])
		if err != nil {
			return nil, err
		}
		if n != size {
			return nil, fmt.Errorf("%T: protobuf of %d bytes, %d expected", obj, n, size)
		}
		return env.Close(b), nil
	}
	m, ok := obj.(marshaler)
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", obj)
	}
	raw, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	return Wrap(gvk, raw), nil
}

// FieldSize is the size of a length-delimited field of n bytes.
func FieldSize(field, n int) int {
	return uvarintSize(uint64(field)<<3|2) + uvarintSize(uint64(n)) + n
}

// AppendBytes appends a length-delimited field (wire type 2).
func AppendBytes(b []byte, field int, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func uvarintSize(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
