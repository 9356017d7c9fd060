package apiserver

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/kubeproto"
)

// MaxBodyBytes caps a request body, as kube-apiserver does.
const MaxBodyBytes = 3 << 20

// readBody reads the request body, refusing one over MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", MaxBodyBytes))
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest("unable to read the request body: " + err.Error())
	}
	if len(data) > MaxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", MaxBodyBytes))
	}
	return data, nil
}

// contentType returns the base media type of the request body.
func contentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "application/json"
	}
	base, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return base
}

// bodyJSON reads an object body in JSON or YAML and returns it as JSON.
func bodyJSON(r *http.Request) ([]byte, error) {
	ct := contentType(r)
	switch ct {
	case "application/json", "application/yaml", "text/yaml", "application/x-yaml":
	default:
		return nil, unsupportedMediaType(ct)
	}
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := checkText(data); err != nil {
		return nil, err
	}
	if ct != "application/json" {
		if data, err = yamlToJSON(data); err != nil {
			return nil, err
		}
		return data, checkText(data)
	}
	return data, nil
}

// yamlToJSON converts YAML to JSON. The YAML library refuses documents that
// expand aliases excessively, so an alias bomb fails fast and small.
func yamlToJSON(data []byte) ([]byte, error) {
	out, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, apierrors.NewBadRequest("the request body is not valid YAML: " + err.Error())
	}
	return out, nil
}

// Field validation directives (the fieldValidation query parameter).
const (
	fieldValidationStrict = "Strict"
	fieldValidationWarn   = "Warn"
	fieldValidationIgnore = "Ignore"
)

func fieldValidation(r *http.Request) (string, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "":
		return fieldValidationWarn, nil
	case fieldValidationStrict, fieldValidationWarn, fieldValidationIgnore:
		return v, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of %q, %q or %q, got %q",
			fieldValidationIgnore, fieldValidationWarn, fieldValidationStrict, v))
	}
}

// protobufContentType is Kubernetes' protobuf encoding, which client-go's
// typed clients use for built-in types.
const protobufContentType = "application/vnd.kubernetes.protobuf"

// protoUnmarshaler is implemented by the generated protobuf code of every
// k8s.io/api type.
type protoUnmarshaler interface{ Unmarshal([]byte) error }

// decodeProtobuf reads Kubernetes' protobuf envelope (magic, then a
// runtime.Unknown holding the type and the encoded object) into into.
func decodeProtobuf(data []byte, into any, what string) error {
	if !kubeproto.IsEnveloped(data) {
		return apierrors.NewBadRequest(what + ": the protobuf body lacks the Kubernetes envelope prefix")
	}
	u, err := kubeproto.Unwrap(data)
	if err != nil {
		return apierrors.NewBadRequest(what + ": invalid protobuf envelope: " + err.Error())
	}
	if u.ContentEncoding != "" {
		return apierrors.NewBadRequest(what + ": unsupported protobuf content encoding " + u.ContentEncoding)
	}
	pu, ok := into.(protoUnmarshaler)
	if !ok {
		return unsupportedMediaType(protobufContentType)
	}
	if err := pu.Unmarshal(u.Raw); err != nil {
		return apierrors.NewBadRequest(what + ": invalid protobuf object: " + err.Error())
	}
	if obj, ok := into.(runtime.Object); ok && (u.APIVersion != "" || u.Kind != "") {
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(u.APIVersion, u.Kind))
	}
	return nil
}

// bodyType is the type a request body decodes into.
type bodyType struct {
	New  func() catalog.Object
	GVK  schema.GroupVersionKind
	Name string // the resource, for messages
}

func bodyTypeOf(res *catalog.Resource) bodyType {
	return bodyType{New: res.New, GVK: res.GroupVersionKind(), Name: res.Name}
}

// decodeObject unmarshals JSON into a new object of type t, applying the
// field validation directive to unknown and duplicate fields. Warnings are
// returned for the Warn directive.
func decodeObject(t bodyType, data []byte, directive string) (catalog.Object, []string, error) {
	obj := t.New()
	cannot := func(err error) error {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v",
			t.GVK.Kind, t.GVK.Version, t.GVK.Kind, err))
	}
	var warnings []string
	if directive == fieldValidationIgnore {
		if err := sjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
			return nil, nil, cannot(err)
		}
	} else {
		strictErrs, err := sjson.UnmarshalStrict(data, obj, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
		if err != nil {
			return nil, nil, cannot(err)
		}
		for _, e := range strictErrs {
			warnings = append(warnings, e.Error())
		}
		if len(strictErrs) > 0 && directive == fieldValidationStrict {
			return nil, nil, cannot(errors.New("strict decoding error: " + strings.Join(warnings, ", ")))
		}
	}
	if err := checkTypeMeta(t, obj); err != nil {
		return nil, nil, err
	}
	return obj, warnings, nil
}

// checkTypeMeta refuses a body whose kind or apiVersion names another type.
// Both may be omitted: the URL says what the type is.
func checkTypeMeta(t bodyType, obj catalog.Object) error {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind != "" && gvk.Kind != t.GVK.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the request body (%s) does not match the resource %s (kind %s)", gvk.Kind, t.Name, t.GVK.Kind))
	}
	if gv := gvk.GroupVersion(); !gv.Empty() && gv != t.GVK.GroupVersion() {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", gv, t.GVK.GroupVersion()))
	}
	return nil
}
