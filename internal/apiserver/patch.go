package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/fieldmanager"
	"github.com/sekisho/sekisho/internal/store"
)

// maxJSONPatchOperations bounds the work one JSON patch can ask for.
const maxJSONPatchOperations = 10000

func init() {
	// A JSON patch "copy" can duplicate large subtrees; cap what a patch may add.
	jsonpatch.AccumulatedCopySizeLimit = MaxBodyBytes
}

// Patch content types.
const (
	patchJSON      = "application/json-patch+json"
	patchMerge     = "application/merge-patch+json"
	patchStrategic = "application/strategic-merge-patch+json"
	patchApply     = "application/apply-patch+yaml"
)

// applyPatch applies a patch of the given type to the JSON of an object.
func applyPatch(res *catalog.Resource, schemaOf catalog.Object, patchType string, original, patch []byte) ([]byte, error) {
	switch patchType {
	case patchJSON:
		var ops []json.RawMessage
		if err := json.Unmarshal(patch, &ops); err != nil {
			return nil, apierrors.NewBadRequest("the JSON patch is not a JSON array of operations: " + err.Error())
		}
		if len(ops) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError(
				fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(ops)))
		}
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, fmtPatchError(res, err)
		}
		return out, nil
	case patchMerge:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case patchStrategic:
		var m map[string]any
		if err := json.Unmarshal(original, &m); err != nil {
			return nil, fmtPatchError(res, err)
		}
		return strategicPatch(res, schemaOf, m, patch)
	}
	return nil, unsupportedPatch(patchType)
}

// strategicPatch applies a strategic merge patch to an object given as a
// map (runtime.DefaultUnstructuredConverter's, as kube-apiserver
// patches its built-in types, which skips a JSON round trip of the
// current object) and returns the patched object's JSON.
func strategicPatch(res *catalog.Resource, schemaOf catalog.Object, original map[string]any, patch []byte) ([]byte, error) {
	m, err := strategicPatchMap(patch)
	if err != nil {
		return nil, err
	}
	return strategicPatchJSON(res, schemaOf, original, m)
}

func strategicPatchMap(patch []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, apierrors.NewBadRequest("the strategic merge patch is not a JSON object: " + err.Error())
	}
	return m, nil
}

func strategicPatchJSON(res *catalog.Resource, schemaOf catalog.Object, original, patch map[string]any) ([]byte, error) {
	out, err := strategicpatch.StrategicMergeMapPatch(original, patch, schemaOf)
	if err != nil {
		return nil, fmtPatchError(res, err)
	}
	return json.Marshal(out)
}

// strategicPatchObject applies a strategic merge patch to view, a private
// copy of the current object (or its subresource's view), and decodes
// the result as t with the field validation directive. It returns the
// decoder's warnings.
//
// Most patches name a few of an object's top-level fields: a kubelet's
// status patch names metadata and status, not the spec, which is most of
// a pod. A strategic merge patch changes a top-level field from that
// field and the patch's value for it alone, unless the patch has
// directives at its top level. So for a Go type, only the named fields
// are converted to maps, patched and decoded; the others stay as they
// are in view. The result is what patching the whole object gives
// (TestStrategicPatchByFieldIsWholePatch compares the two).
func strategicPatchObject(t bodyType, res *catalog.Resource, view any, patch []byte, directive string) (catalog.Object, []string, error) {
	m, err := strategicPatchMap(patch)
	if err != nil {
		return nil, nil, err
	}
	if obj, warnings, ok, err := strategicPatchFields(t, res, view, m, directive); ok {
		return obj, warnings, err
	}
	return strategicPatchWhole(t, res, view, m, directive)
}

// strategicPatchWhole patches the whole of view as a map.
func strategicPatchWhole(t bodyType, res *catalog.Resource, view any, patch map[string]any, directive string) (catalog.Object, []string, error) {
	original, err := runtime.DefaultUnstructuredConverter.ToUnstructured(view)
	if err != nil {
		return nil, nil, err
	}
	patched, err := strategicPatchJSON(res, t.New(), original, patch)
	if err != nil {
		return nil, nil, err
	}
	return decodeObject(t, patched, directive)
}

// strategicPatchFields is strategicPatchObject's path for the fields a
// patch names; ok is false when the patch or the type needs the whole
// object patched.
func strategicPatchFields(t bodyType, res *catalog.Resource, view any, patch map[string]any, directive string) (_ catalog.Object, warnings []string, ok bool, _ error) {
	cur, isObject := view.(catalog.Object)
	v := reflect.ValueOf(view)
	schemaOf := t.New()
	if !isObject || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || reflect.TypeOf(schemaOf) != v.Type() {
		return nil, nil, false, nil
	}
	named, ok := namedFields(v.Elem().Type(), patch)
	if !ok {
		return nil, nil, false, nil
	}
	part := reflect.New(v.Elem().Type())
	copyNamed(part.Elem(), v.Elem(), named)
	original, err := runtime.DefaultUnstructuredConverter.ToUnstructured(part.Interface())
	if err != nil {
		return nil, nil, true, err
	}
	patched, err := strategicPatchJSON(res, schemaOf, original, patch)
	if err != nil {
		return nil, nil, true, err
	}
	obj, warnings, err := decodeObject(t, patched, directive)
	if err != nil {
		return nil, nil, true, err
	}
	copyNamed(v.Elem(), reflect.ValueOf(obj).Elem(), named)
	return cur, warnings, true, nil
}

// namedField is a struct field a patch names: the whole field, or (for a
// plain struct the patch gives as an object without directives) the
// fields of it the patch names. A struct's inline fields (a built-in
// type's TypeMeta) are always named whole.
type namedField struct {
	index  int
	fields []namedField // nil: the whole field
}

// namedFields are the fields of struct type t that patch names; ok is
// false when the patch names something t has no field for, such as a
// directive.
func namedFields(t reflect.Type, patch map[string]any) (named []namedField, ok bool) {
	fields := fieldsOf(t)
	named = make([]namedField, 0, len(patch)+len(fields.inline))
	for _, i := range fields.inline {
		named = append(named, namedField{index: i})
	}
	for k, v := range patch {
		if fields.inlineNames[k] {
			continue
		}
		i, found := fields.byName[k]
		if !found {
			return nil, false
		}
		f := namedField{index: i}
		if sub, isObject := v.(map[string]any); isObject && plainStruct(t.Field(i).Type) {
			f.fields, _ = namedFields(t.Field(i).Type, sub)
		}
		named = append(named, f)
	}
	return named, true
}

// copyNamed sets the named fields of to from from.
func copyNamed(to, from reflect.Value, named []namedField) {
	for _, f := range named {
		if f.fields == nil {
			to.Field(f.index).Set(from.Field(f.index))
			continue
		}
		copyNamed(to.Field(f.index), from.Field(f.index), f.fields)
	}
}

// plainStruct says a struct type converts to and from JSON field by
// field: not a Time, a Quantity or anything else with its own form.
func plainStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	p := reflect.PointerTo(t)
	for _, m := range []string{"MarshalJSON", "UnmarshalJSON", "ToUnstructured", "MarshalText", "UnmarshalText"} {
		if _, has := p.MethodByName(m); has {
			return false
		}
	}
	return true
}

// structFields are a struct type's fields by JSON name, and its inline
// ones (a built-in type's TypeMeta) with the names of their fields.
type structFields struct {
	byName      map[string]int
	inline      []int
	inlineNames map[string]bool
}

var structFieldsOf sync.Map // reflect.Type -> structFields

func fieldsOf(t reflect.Type) structFields {
	if f, ok := structFieldsOf.Load(t); ok {
		return f.(structFields)
	}
	f := structFields{byName: map[string]int{}, inlineNames: map[string]bool{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case !sf.IsExported() || name == "-":
		case name == "" && (sf.Anonymous || strings.Contains(opts, "inline")):
			f.inline = append(f.inline, i)
			if sf.Type.Kind() == reflect.Struct {
				for n := range fieldsOf(sf.Type).byName {
					f.inlineNames[n] = true
				}
			}
		case name == "":
			f.byName[sf.Name] = i
		default:
			f.byName[name] = i
		}
	}
	structFieldsOf.Store(t, f)
	return f
}

func fmtPatchError(res *catalog.Resource, err error) error {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", res.GroupResource(), "", err.Error(), 0, false)
}

func unsupportedPatch(ct string) error {
	err := unsupportedMediaType(ct).(*apierrors.StatusError)
	err.ErrStatus.Message = fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
		patchJSON, patchMerge, patchStrategic, patchApply)
	return err
}

func (s *Server) patch(req *request) error {
	pt := contentType(req.r)
	switch pt {
	case patchJSON, patchMerge, patchStrategic, patchApply:
	default:
		return unsupportedPatch(pt)
	}
	o, err := writeOptions(req.r, "PatchOptions", pt)
	if err != nil {
		return err
	}
	directive, err := fieldValidation(req.r)
	if err != nil {
		return err
	}
	patchBody, err := readBody(req.r)
	if err != nil {
		return err
	}
	if err := checkText(patchBody); err != nil {
		return err
	}
	auditRequestPatch(req.ctx, pt, patchBody)
	if pt == patchApply {
		return s.apply(req, o, patchBody, directive)
	}
	e, err := s.objects.Update(req.ctx, req.target(), o, func(cur catalog.Object) (catalog.Object, error) {
		var view any = cur
		if req.sub != nil && req.sub.View != nil {
			view = req.sub.View(cur) // a scale is patched as a Scale
		}
		if pt == patchStrategic {
			obj, warnings, err := strategicPatchObject(req.bodyType(), req.res, view, patchBody, directive)
			if err != nil {
				return nil, err
			}
			for _, w := range warnings {
				addWarning(req.w, w)
			}
			return obj, checkNamespace(req, obj)
		}
		original, err := json.Marshal(view)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(req.res, req.bodyType().New(), pt, original, patchBody)
		if err != nil {
			return nil, err
		}
		return s.decodeChecked(req, patched, directive)
	})
	if err != nil {
		return err
	}
	return s.writeEntry(req, http.StatusOK, e)
}

// apply serves a server-side apply: the body is a partial object in YAML
// (or JSON), merged as the field manager's; a missing object is created.
func (s *Server) apply(req *request, o store.Options, body []byte, directive string) error {
	force, err := forceOption(req.r)
	if err != nil {
		return err
	}
	data, err := yaml.YAMLToJSON(body)
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	patch := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, &patch.Object); err != nil || patch.Object == nil {
		return apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: the patch is not a YAML or JSON object: %s", string(data)))
	}
	if directive != metav1.FieldValidationIgnore {
		if err := yaml.UnmarshalStrict(body, &map[string]any{}); err != nil {
			if directive == metav1.FieldValidationStrict {
				return apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %v", err))
			}
			addWarning(req.w, err.Error())
		}
	}
	e, created, err := s.objects.Apply(req.ctx, req.target(), patch, force, o)
	if err != nil {
		return err
	}
	if created {
		return s.writeEntry(req, http.StatusCreated, e)
	}
	return s.writeEntry(req, http.StatusOK, e)
}

// writeOptions reads what qualifies a write: dryRun, and the field
// manager, validated as kube-apiserver validates kind's options (a
// CreateOptions, UpdateOptions or PatchOptions). A write that names no
// manager is recorded as its user agent's; an apply must name one.
func writeOptions(r *http.Request, kind, patchType string) (store.Options, error) {
	dry, err := dryRun(r)
	if err != nil {
		return store.Options{}, err
	}
	q := r.URL.Query()
	manager := q.Get("fieldManager")
	errs := metav1validation.ValidateFieldManager(manager, field.NewPath("fieldManager"))
	if kind == "PatchOptions" {
		switch {
		case patchType == patchApply && manager == "":
			errs = append(errs, field.Required(field.NewPath("fieldManager"), "is required for apply patch"))
		case patchType != patchApply && q.Has("force"):
			errs = append(errs, field.Forbidden(field.NewPath("force"), "may not be specified for non-apply patch"))
		}
	}
	if len(errs) > 0 {
		return store.Options{}, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: kind}, "", errs)
	}
	if manager == "" {
		manager = fieldmanager.ManagerFromUserAgent(r.UserAgent())
	}
	return store.Options{DryRun: dry, Manager: manager}, nil
}

// forceOption reads an apply's force parameter.
func forceOption(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("force")
	if v == "" {
		return false, nil
	}
	force, err := strconv.ParseBool(v)
	if err != nil {
		return false, apierrors.NewBadRequest(fmt.Sprintf("invalid force %q: %v", v, err))
	}
	return force, nil
}
