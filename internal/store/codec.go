package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/sekisho/sekisho/internal/catalog"
)

// Objects are stored as JSON without metadata.resourceVersion: the
// revision of the storage write is the resourceVersion, and it is only
// known after the write. On the way out, the revision is spliced into the
// encoded bytes instead of decoding and re-encoding the whole object, which
// keeps GET, LIST and watch fan-out cheap.

// encode marshals obj for storage: with its kind and apiVersion, without a
// resourceVersion.
func encode(r *catalog.Resource, obj catalog.Object) ([]byte, error) {
	if v := r.StoredAs; v != nil {
		return encode(v.Resource, v.ToStorage(obj))
	}
	obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
	rv := obj.GetResourceVersion()
	obj.SetResourceVersion("")
	data, err := json.Marshal(obj)
	obj.SetResourceVersion(rv)
	return data, err
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
	if err := json.Unmarshal(data, obj); err != nil {
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
