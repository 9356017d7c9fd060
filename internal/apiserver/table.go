package apiserver

import (
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/sekisho/sekisho/internal/catalog"
)

// includeObject reads the includeObject query parameter (default Metadata).
func includeObject(req *request) (metav1.IncludeObjectPolicy, error) {
	switch v := metav1.IncludeObjectPolicy(req.r.URL.Query().Get("includeObject")); v {
	case "":
		return metav1.IncludeMetadata, nil
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
		return v, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("Unable to convert to Table as requested: includeObject must be one of None, Metadata or Object, got %q", v))
	}
}

// table renders objects as a meta.k8s.io Table. Every column is rendered;
// kubectl hides the wide ones itself.
func (s *Server) table(req *request, gv string, objs []catalog.Object, lm metav1.ListMeta) (*metav1.Table, error) {
	include, err := includeObject(req)
	if err != nil {
		return nil, err
	}
	spec := req.res.TableFor()
	t := &metav1.Table{ListMeta: lm, Rows: make([]metav1.TableRow, 0, len(objs))}
	t.APIVersion, t.Kind = gv, "Table"
	t.ColumnDefinitions = spec.Columns
	now := s.now()
	for _, obj := range objs {
		row := metav1.TableRow{Cells: spec.Cells(obj, now)}
		if spec.Conditions != nil {
			row.Conditions = spec.Conditions(obj)
		}
		switch include {
		case metav1.IncludeMetadata:
			data, err := json.Marshal(partialMetadata(obj, gv))
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: data}
		case metav1.IncludeObject:
			data, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: data}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
