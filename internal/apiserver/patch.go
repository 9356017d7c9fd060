package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

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
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return nil, apierrors.NewBadRequest("the strategic merge patch is not a JSON object: " + err.Error())
	}
	out, err := strategicpatch.StrategicMergeMapPatch(original, m, schemaOf)
	if err != nil {
		return nil, fmtPatchError(res, err)
	}
	return json.Marshal(out)
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
	if pt == patchApply {
		return s.apply(req, o, patchBody, directive)
	}
	e, err := s.objects.Update(req.ctx, req.target(), o, func(cur catalog.Object) (catalog.Object, error) {
		var view any = cur
		if req.sub != nil && req.sub.View != nil {
			view = req.sub.View(cur) // a scale is patched as a Scale
		}
		var patched []byte
		if pt == patchStrategic {
			original, err := runtime.DefaultUnstructuredConverter.ToUnstructured(view)
			if err != nil {
				return nil, err
			}
			patched, err = strategicPatch(req.res, req.bodyType().New(), original, patchBody)
			if err != nil {
				return nil, err
			}
		} else {
			original, err := json.Marshal(view)
			if err != nil {
				return nil, err
			}
			if patched, err = applyPatch(req.res, req.bodyType().New(), pt, original, patchBody); err != nil {
				return nil, err
			}
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
