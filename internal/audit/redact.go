package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Redacted replaces every credential an audit event would otherwise
// hold.
const Redacted = "[redacted]"

// lastApplied is kubectl apply's annotation: the whole object as last
// applied, which for a Secret is its data again.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Target says what an object in an event is: the resource and
// subresource of the request that carried it.
type Target struct {
	Group       string
	Resource    string
	Subresource string
}

// Redact returns the JSON of an object (or a patch) with every credential
// in it replaced by Redacted, whatever the event's level:
//   - a Secret's data and stringData, key by key, so the event still
//     shows which keys were written (a bootstrap token is a Secret);
//   - the annotation kubectl apply keeps of a Secret;
//   - a TokenRequest's token and a TokenReview's token;
//   - any PEM private key, as text or base64, wherever it is.
//
// Without managedFields, metadata.managedFields are dropped too. A body
// that is not JSON comes back as nil: an event carries no bytes it
// cannot vouch for.
func Redact(t Target, data []byte, omitManagedFields bool) []byte {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil
	}
	v = redactObject(t, v, omitManagedFields)
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

func redactObject(t Target, v any, omitManagedFields bool) any {
	switch obj := v.(type) {
	case map[string]any:
		redactAs(t, obj, omitManagedFields)
		if items, ok := obj["items"].([]any); ok && isList(obj) {
			for _, item := range items {
				if m, ok := item.(map[string]any); ok {
					redactAs(t, m, omitManagedFields)
				}
			}
		}
	case []any:
		// A JSON patch: in a Secret, every value it writes.
		if t.Group == "" && t.Resource == "secrets" {
			for _, op := range obj {
				if m, ok := op.(map[string]any); ok {
					if _, has := m["value"]; has {
						m["value"] = redactAll(m["value"])
					}
				}
			}
		}
	}
	return redactNested(v)
}

// redactAs redacts obj as an object of the target's resource.
func redactAs(t Target, obj map[string]any, omitManagedFields bool) {
	if meta, ok := obj["metadata"].(map[string]any); ok && omitManagedFields {
		delete(meta, "managedFields")
	}
	switch {
	case t.Group == "" && t.Resource == "secrets" && t.Subresource == "":
		redactSecret(obj)
	case t.Group == "" && t.Resource == "serviceaccounts" && t.Subresource == "token":
		redactField(obj, "status", "token")
	case t.Group == "authentication.k8s.io" && t.Resource == "tokenreviews":
		redactField(obj, "spec", "token")
	}
}

// redactNested redacts, wherever they are, objects that say they are
// Secrets, TokenRequests or TokenReviews (a Table's rows may embed
// them), and strings holding a PEM private key.
func redactNested(v any) any {
	switch x := v.(type) {
	case map[string]any:
		// By kind alone: redacting too much is the safe mistake.
		switch x["kind"] {
		case "Secret":
			redactSecret(x)
		case "TokenRequest":
			redactField(x, "status", "token")
		case "TokenReview":
			redactField(x, "spec", "token")
		}
		for k, e := range x {
			x[k] = redactNested(e)
		}
	case []any:
		for i, e := range x {
			x[i] = redactNested(e)
		}
	case string:
		if holdsPrivateKey(x) {
			return Redacted
		}
	}
	return v
}

func redactSecret(obj map[string]any) {
	redactKeys(obj, "data")
	redactKeys(obj, "stringData")
	if meta, ok := obj["metadata"].(map[string]any); ok {
		if ann, ok := meta["annotations"].(map[string]any); ok {
			if _, has := ann[lastApplied]; has {
				ann[lastApplied] = Redacted
			}
		}
	}
}

func isList(obj map[string]any) bool {
	kind, _ := obj["kind"].(string)
	return kind == "" || strings.HasSuffix(kind, "List")
}

// redactKeys replaces each value of the map obj[field].
func redactKeys(obj map[string]any, field string) {
	switch m := obj[field].(type) {
	case map[string]any:
		for k := range m {
			m[k] = Redacted
		}
	case nil:
	default:
		obj[field] = Redacted
	}
}

func redactField(obj map[string]any, parent, field string) {
	if m, ok := obj[parent].(map[string]any); ok {
		if _, has := m[field]; has {
			m[field] = Redacted
		}
	}
}

// redactAll replaces every value in v, keeping the keys of maps.
func redactAll(v any) any {
	if m, ok := v.(map[string]any); ok {
		for k := range m {
			m[k] = Redacted
		}
		return m
	}
	return Redacted
}

// pemBase64 is how "-----BEGIN" starts in base64, as a []byte field
// (a CSR's certificate, a Secret's data) holds PEM.
const pemBase64 = "LS0tLS1CRUdJTi"

func holdsPrivateKey(s string) bool {
	if strings.Contains(s, "PRIVATE KEY-----") {
		return true
	}
	i := strings.Index(s, pemBase64)
	if i < 0 {
		return false
	}
	// What follows may not all be base64: what is decodes.
	decoded, _ := base64.StdEncoding.DecodeString(s[i:])
	return bytes.Contains(decoded, []byte("PRIVATE KEY-----"))
}
