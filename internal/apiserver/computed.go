package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// serveComputed answers get and list of a computed resource
// (componentstatuses) from its Computer. As kube-apiserver does, a list
// honours label and field selectors (on metadata only) and nothing else
// of its options, and there is no watch.
func (s *Server) serveComputed(req *request) error {
	computer := s.cfg.Computed[req.res.GroupVersionResource()]
	if req.sub != nil {
		return errNotFoundPath()
	}
	switch req.ri.Verb {
	case "get":
		if _, err := negotiate(req.r, true, false); err != nil {
			return err
		}
		obj, err := computer.Get(req.ctx, req.ri.Name)
		if err != nil {
			return err
		}
		e, err := computedEntry(req.res, obj)
		if err != nil {
			return err
		}
		return s.writeEntry(req, http.StatusOK, e)
	case "list":
		o, err := s.listOptions(req)
		if err != nil {
			return err
		}
		neg, err := negotiate(req.r, true, false)
		if err != nil {
			return err
		}
		objs, err := computer.List(req.ctx)
		if err != nil {
			return err
		}
		items := make([]*store.Entry, 0, len(objs))
		for _, obj := range objs {
			if o.Labels != nil && !o.Labels.Matches(labels.Set(obj.GetLabels())) {
				continue
			}
			if o.Fields != nil && !o.Fields.Matches(store.FieldSet(req.res, obj)) {
				continue
			}
			e, err := computedEntry(req.res, obj)
			if err != nil {
				return err
			}
			items = append(items, e)
		}
		return s.writeItems(req, neg, metav1.ListMeta{}, items)
	default:
		return apierrors.NewMethodNotSupported(req.res.GroupResource(), req.ri.Verb)
	}
}

func computedEntry(res *catalog.Resource, obj catalog.Object) (*store.Entry, error) {
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	return store.EntryOf(res, obj)
}
