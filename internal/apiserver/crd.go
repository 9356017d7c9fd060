package apiserver

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// crdResource is where clients look for custom resource definitions.
var crdResource = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}

// isCRDPath reports whether a request is for apiextensions.k8s.io/v1
// customresourcedefinitions, which sekisho does not serve as a resource.
func isCRDPath(ri *RequestInfo) bool {
	return ri.APIGroup == crdResource.Group && ri.APIVersion == "v1" && ri.Resource == crdResource.Resource &&
		ri.Namespace == "" && ri.Subresource == "" && len(ri.Parts) <= 2
}

// serveNoCRDs answers for the custom resource definitions sekisho does not
// have: the list is empty, a named one is not found, and creating one is
// refused with the reason. kubectl lists CRDs to decide how to validate
// kinds it cannot patch (SubjectAccessReview, TokenReview), so an empty
// answer, not a 404 for the whole path, is what keeps kubectl create -f
// working.
func (s *Server) serveNoCRDs(w http.ResponseWriter, r *http.Request, ri *RequestInfo) {
	switch ri.Verb {
	case "list":
		rev, err := s.objects.KV.Rev(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		body := fmt.Sprintf(`{"kind":"CustomResourceDefinitionList","apiVersion":"apiextensions.k8s.io/v1","metadata":{"resourceVersion":"%d"},"items":[]}`, rev)
		writeBytes(w, http.StatusOK, "application/json", []byte(body))
	case "get":
		s.writeError(w, r, apierrors.NewNotFound(crdResource, ri.Name))
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(crdResource, ri.Verb+" (sekisho serves no custom resources)"))
	}
}
