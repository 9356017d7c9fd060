package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/kubeproto"
)

// Objects are stored without metadata.resourceVersion: the revision of
// the storage write is the resourceVersion, and it is only known after the
// write. Built-in types are stored as kube-apiserver stores them in etcd:
// protobuf in the envelope its serializer writes ("k8s\x00", then a
// runtime.Unknown holding the kind, the apiVersion and the object's
// protobuf). Decoding protobuf costs a sixth of decoding JSON, and every
// write is decoded once for its watchers. Custom resources, which have no
// protobuf form, are stored as JSON, as kube-apiserver stores them; JSON
// is served from them by splicing the revision into the stored bytes.
// Both forms are read whatever a resource is written in, so data written
// before protobuf storage is still served.

// protoObject is an object with a protobuf form: every type of k8s.io/api.
type protoObject interface {
	catalog.Object
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// isProtobuf reports whether stored bytes are in the protobuf envelope.
func isProtobuf(data []byte) bool { return kubeproto.IsEnveloped(data) }

// encode marshals obj for storage: with its kind and apiVersion, without a
// resourceVersion.
func encode(r *catalog.Resource, obj catalog.Object) ([]byte, error) {
	if v := r.StoredAs; v != nil {
		return encode(v.Resource, v.ToStorage(obj))
	}
	obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
	rv := obj.GetResourceVersion()
	obj.SetResourceVersion("")
	defer obj.SetResourceVersion(rv)
	if _, ok := obj.(protoObject); ok && !storedAsJSON[r.GroupResource()] {
		return kubeproto.Encode(r.GroupVersionKind(), obj)
	}
	return json.Marshal(obj)
}

// EncodeObject is obj in r's stored form, for values kept outside their
// object's own key (kube-apiserver's endpoint leases).
func EncodeObject(r *catalog.Resource, obj catalog.Object) ([]byte, error) { return encode(r, obj) }

// DecodeObject reads a value EncodeObject wrote, or kube-apiserver did.
func DecodeObject(r *catalog.Resource, data []byte) (catalog.Object, error) {
	return decode(r, data, 0)
}

// storedAsJSON are the built-in resources kube-apiserver stores as JSON
// although they have a protobuf form: the aggregator's APIServices
// (its storage codec is the JSON LegacyCodec).
var storedAsJSON = map[schema.GroupResource]bool{
	{Group: "apiregistration.k8s.io", Resource: "apiservices"}: true,
}

// withResourceVersion returns stored bytes with metadata.resourceVersion set to rev.
func withResourceVersion(r *catalog.Resource, data []byte, rev int64) []byte {
	if r.StoredAs != nil {
		return converted(r, data, rev)
	}
	prefix := r.JSONPrefix()
	if !bytes.HasPrefix(data, prefix) {
		return spliceSlow(data, rev)
	}
	out := make([]byte, 0, len(data)+32)
	out = append(out, prefix...)
	out = append(out, `"resourceVersion":"`...)
	out = strconv.AppendInt(out, rev, 10)
	out = append(out, '"')
	if len(data) > len(prefix) && data[len(prefix)] != '}' {
		out = append(out, ',')
	}
	return append(out, data[len(prefix):]...)
}

// writeSplicedAs writes stored data, which begins with its resource's
// JSONPrefix, with that prefix replaced by start (which ends inside
// metadata) and the resourceVersion spliced in after it, without
// building the result in memory.
func writeSplicedAs(r *catalog.Resource, w io.Writer, data []byte, rev int64, start []byte) error {
	prefix := r.JSONPrefix()
	var buf [48]byte
	head := append(buf[:0], `"resourceVersion":"`...)
	head = strconv.AppendInt(head, rev, 10)
	head = append(head, '"')
	if len(data) > len(prefix) && data[len(prefix)] != '}' {
		head = append(head, ',')
	}
	for _, part := range [][]byte{start, head, data[len(prefix):]} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// converted is the JSON of an object stored in another resource's form
// (StoredAs), in its own form. Bytes that do not decode are passed on as
// they are, as spliceSlow does.
func converted(r *catalog.Resource, data []byte, rev int64) []byte {
	obj, err := decode(r, data, rev)
	if err != nil {
		return data
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return data
	}
	return out
}

// spliceSlow handles bytes not written by encode (for example written by
// another tool): decode generically, set, re-encode.
func spliceSlow(data []byte, rev int64) []byte {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return data
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	meta["resourceVersion"] = strconv.FormatInt(rev, 10)
	out, err := json.Marshal(m)
	if err != nil {
		return data
	}
	return out
}

// decode unmarshals stored bytes into a new object with resourceVersion rev.
func decode(r *catalog.Resource, data []byte, rev int64) (catalog.Object, error) {
	if v := r.StoredAs; v != nil {
		stored, err := decode(v.Resource, data, rev)
		if err != nil {
			return nil, err
		}
		obj := v.FromStorage(stored)
		obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
		return obj, nil
	}
	obj := r.New()
	if isProtobuf(data) {
		p, ok := obj.(protoObject)
		if !ok {
			return nil, fmt.Errorf("decode stored %s: stored as protobuf, but the type has no protobuf form", r.Kind)
		}
		env, err := kubeproto.Unwrap(data)
		if err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", r.Kind, err)
		}
		if env.Kind != r.Kind {
			return nil, fmt.Errorf("decode stored %s: the stored object is a %s", r.Kind, env.Kind)
		}
		if err := p.Unmarshal(env.Raw); err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", r.Kind, err)
		}
		if r.Decoded != nil {
			r.Decoded(obj)
		}
	} else if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", r.Kind, err)
	}
	obj.SetResourceVersion(strconv.FormatInt(rev, 10))
	obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
	return obj, nil
}

// metadataOnly is the part of an object label selectors need.
type metadataOnly struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}
