package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/sekisho/sekisho/internal/catalog"
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
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, apierrors.NewBadRequest("the strategic merge patch is not a JSON object: " + err.Error())
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, schemaOf)
		if err != nil {
			return nil, fmtPatchError(res, err)
		}
		return out, nil
	}
	return nil, unsupportedPatch(patchType)
}

func fmtPatchError(res *catalog.Resource, err error) error {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", res.GroupResource(), "", err.Error(), 0, false)
}

func unsupportedPatch(ct string) error {
	err := unsupportedMediaType(ct).(*apierrors.StatusError)
	err.ErrStatus.Message = fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s",
		patchJSON, patchMerge, patchStrategic)
	return err
}

func (s *Server) patch(req *request) error {
	dry, err := dryRun(req.r)
	if err != nil {
		return err
	}
	directive, err := fieldValidation(req.r)
	if err != nil {
		return err
	}
	pt := contentType(req.r)
	switch pt {
	case patchJSON, patchMerge, patchStrategic:
	default:
		return unsupportedPatch(pt)
	}
	patchBody, err := readBody(req.r)
	if err != nil {
		return err
	}
	if err := checkText(patchBody); err != nil {
		return err
	}
	e, err := s.objects.Update(req.ctx, req.target(), store.Options{DryRun: dry}, func(cur catalog.Object) (catalog.Object, error) {
		var view any = cur
		if req.sub != nil && req.sub.View != nil {
			view = req.sub.View(cur) // a scale is patched as a Scale
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
