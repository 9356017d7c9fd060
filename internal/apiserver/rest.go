package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/sekisho/sekisho/internal/audit"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
	"github.com/sekisho/sekisho/internal/warning"
)

// errNotFoundPath is kube-apiserver's answer for a path no resource serves.
func errNotFoundPath() error {
	return apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "the server could not find the requested resource", 0, false)
}

// errMethodNotAllowed is kube-apiserver's answer when a path is served but
// not with the request's method.
func errMethodNotAllowed() error {
	return apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "405: Method Not Allowed", 0, false)
}

// request bundles what a resource handler needs.
type request struct {
	w   http.ResponseWriter
	r   *http.Request
	ri  *RequestInfo
	res *catalog.Resource
	sub *catalog.Subresource
	ctx context.Context
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, ri *RequestInfo) {
	res, ok := s.cfg.Catalog.Lookup(schema.GroupVersionResource{Group: ri.APIGroup, Version: ri.APIVersion, Resource: ri.Resource})
	if !ok && isCRDPath(ri) {
		s.serveNoCRDs(w, r, ri)
		return
	}
	// Only a proxy subresource takes a path after its name.
	if !ok || len(ri.Parts) > 3 && ri.Subresource != "proxy" {
		s.writeError(w, r, errNotFoundPath())
		return
	}
	// A namespaced resource named outside a namespace, or a cluster-scoped
	// one inside a namespace, has no such path. Namespaces included:
	// /namespaces/{ns}/namespaces must not list, watch or create them, as
	// it did once (the class of CVE-2019-11247).
	if (res.Namespaced && ri.Namespace == "" && ri.Name != "") || (!res.Namespaced && ri.InNamespace) {
		s.writeError(w, r, errNotFoundPath())
		return
	}
	// Outside a namespace, kube-apiserver serves a namespaced resource only
	// for list and watch: other methods find the route but not the method,
	// and a create-only resource has no route there at all.
	if res.Namespaced && !ri.InNamespace && ri.Name == "" && ri.Verb != "list" && ri.Verb != "watch" {
		if res.Virtual {
			s.writeError(w, r, errNotFoundPath())
		} else {
			s.writeError(w, r, errMethodNotAllowed())
		}
		return
	}
	// Whatever serves the request (admission plugins, above all) may warn
	// the client.
	req := &request{w: w, r: r, ri: ri, res: res, ctx: warning.WithWarnings(r.Context(), func(m string) { addWarning(w, m) })}
	if ri.Subresource != "" {
		req.sub = res.Subresource(ri.Subresource)
		if req.sub == nil {
			s.writeError(w, r, errNotFoundPath())
			return
		}
	}
	// kube-apiserver warns on every request to a deprecated type, its
	// subresources of the same kind included.
	if msg := res.DeprecationWarning(); msg != "" && (req.sub == nil || req.sub.View == nil && !req.sub.Action && !req.sub.Connect) {
		addWarning(w, msg)
	}
	if res.Computed {
		if err := s.serveComputed(req); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	if req.sub != nil && req.sub.Connect {
		if err := s.connect(req); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	var err error
	switch {
	case res.Virtual:
		err = s.createVirtual(req)
	case req.sub != nil && req.sub.Action:
		err = s.createAction(req)
	}
	if res.Virtual || (req.sub != nil && req.sub.Action) {
		if err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	switch ri.Verb {
	case "get":
		err = s.get(req)
	case "list":
		if req.sub != nil {
			err = errNotFoundPath()
			break
		}
		err = s.list(req)
	case "watch":
		err = s.watch(req)
	case "create":
		if ri.Name != "" {
			err = apierrors.NewMethodNotSupported(res.GroupResource(), "create")
			break
		}
		err = s.create(req)
	case "update":
		err = s.update(req)
	case "patch":
		err = s.patch(req)
	case "delete":
		if req.sub != nil {
			err = apierrors.NewMethodNotSupported(res.GroupResource(), "delete")
			break
		}
		err = s.delete(req)
	case "deletecollection":
		if res.NoDeleteCollection {
			err = apierrors.NewMethodNotSupported(res.GroupResource(), "deletecollection")
			break
		}
		err = s.deleteCollection(req)
	default:
		err = apierrors.NewMethodNotSupported(res.GroupResource(), r.Method)
	}
	if err != nil {
		s.writeError(w, r, err)
	}
}

// dryRun reads the dryRun query parameter: absent, or "All".
func dryRun(r *http.Request) (bool, error) {
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: valid values are [All]", v))
		}
	}
	return len(values) > 0, nil
}

// maxUnreadableWarnings bounds the warnings of one list, so a key gone
// missing does not give a response thousands of headers.
const maxUnreadableWarnings = 10

func addWarning(w http.ResponseWriter, msg string) {
	w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
}

// writeBytes writes an encoded response.
func writeBytes(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// writeEntry answers with one object in the negotiated format.
func (s *Server) writeEntry(req *request, code int, e *store.Entry) error {
	neg, err := negotiate(req.r, true, false)
	if err != nil {
		return err
	}
	if req.sub != nil && req.sub.View != nil {
		return s.writeView(req, code, neg, e)
	}
	switch neg.format {
	case formatJSON:
		writeBytes(req.w, code, neg.contentType, e.JSON())
		return nil
	case formatYAML:
		y, err := yaml.JSONToYAML(e.JSON())
		if err != nil {
			return err
		}
		writeBytes(req.w, code, neg.contentType, y)
		return nil
	case formatTable:
		obj, err := e.Object()
		if err != nil {
			return err
		}
		t, err := s.table(req, neg.tableGV, []catalog.Object{obj}, metav1.ListMeta{ResourceVersion: obj.GetResourceVersion()})
		if err != nil {
			return err
		}
		return writeJSON(req.w, code, neg.contentType, t)
	case formatPartialMetadata:
		obj, err := e.Object()
		if err != nil {
			return err
		}
		return writeEncoded(req.w, code, neg, partialMetadata(obj, neg.tableGV))
	case formatProtobuf:
		obj, err := e.Object()
		if err != nil {
			return err
		}
		body, err := encodeProtobuf(req.res.GroupVersionKind(), obj)
		if err != nil {
			return err
		}
		writeBytes(req.w, code, neg.contentType, body)
		return nil
	}
	return notAcceptable()
}

// writeView answers with a subresource's view of the object (a Scale).
func (s *Server) writeView(req *request, code int, neg negotiated, e *store.Entry) error {
	obj, err := e.Object()
	if err != nil {
		return err
	}
	return writeEncoded(req.w, code, neg, req.sub.View(obj))
}

// respond answers with a computed object (a review, a token, a Status)
// in the encoding the client accepts: JSON, YAML or protobuf.
func respond(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) error {
	neg, err := negotiate(r, false, false)
	if err != nil {
		return err
	}
	return writeEncoded(w, code, neg, obj)
}

// writeEncoded writes a typed object whose apiVersion and kind are set in
// the negotiated encoding.
func writeEncoded(w http.ResponseWriter, code int, neg negotiated, obj runtime.Object) error {
	var body []byte
	var err error
	switch {
	case neg.format == formatProtobuf || neg.protobuf:
		body, err = encodeProtobuf(obj.GetObjectKind().GroupVersionKind(), obj)
	case neg.format == formatYAML:
		body, err = yaml.Marshal(obj)
	case neg.format == formatJSON || neg.format == formatPartialMetadata:
		body, err = json.Marshal(obj)
	default:
		return notAcceptable()
	}
	if err != nil {
		return err
	}
	writeBytes(w, code, neg.contentType, body)
	return nil
}

func writeJSON(w http.ResponseWriter, code int, contentType string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	writeBytes(w, code, contentType, data)
	return nil
}

func partialMetadata(obj catalog.Object, gv string) *metav1.PartialObjectMetadata {
	pm := &metav1.PartialObjectMetadata{ObjectMeta: *metaOf(obj)}
	pm.APIVersion, pm.Kind = gv, "PartialObjectMetadata"
	return pm
}

func metaOf(obj catalog.Object) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{}
	m.Name, m.GenerateName, m.Namespace, m.UID = obj.GetName(), obj.GetGenerateName(), obj.GetNamespace(), obj.GetUID()
	m.ResourceVersion, m.Generation, m.CreationTimestamp = obj.GetResourceVersion(), obj.GetGeneration(), obj.GetCreationTimestamp()
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = obj.GetDeletionTimestamp(), obj.GetDeletionGracePeriodSeconds()
	m.Labels, m.Annotations, m.OwnerReferences, m.Finalizers = obj.GetLabels(), obj.GetAnnotations(), obj.GetOwnerReferences(), obj.GetFinalizers()
	return m
}

func (s *Server) get(req *request) error {
	e, err := s.objects.Get(req.ctx, req.res, req.ri.Namespace, req.ri.Name)
	if err != nil {
		return err
	}
	return s.writeEntry(req, http.StatusOK, e)
}

// listOptions parses selectors, paging and resourceVersion semantics.
func (s *Server) listOptions(req *request) (store.ListOptions, error) {
	q := req.r.URL.Query()
	o := store.ListOptions{Namespace: req.ri.Namespace}
	var err error
	if v := q.Get("labelSelector"); v != "" {
		if o.Labels, err = labels.Parse(v); err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	if v := q.Get("fieldSelector"); v != "" {
		if o.Fields, err = fields.ParseSelector(v); err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		o.Fields, err = o.Fields.Transform(func(f, v string) (string, string, error) {
			if label, ok := req.res.FieldLabel(f); ok {
				return label, v, nil
			}
			return "", "", req.res.FieldLabelError(f)
		})
		if err != nil {
			return o, apierrors.NewBadRequest(err.Error())
		}
	}
	if v := q.Get("limit"); v != "" {
		if o.Limit, err = strconv.ParseInt(v, 10, 64); err != nil || o.Limit < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("limit must be a non-negative integer, got %q", v))
		}
	}
	o.Continue = q.Get("continue")
	rv, match := q.Get("resourceVersion"), q.Get("resourceVersionMatch")
	if o.Continue != "" && rv != "" && rv != "0" {
		return o, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	watchList := req.ri.Verb == "watch" && isTrue(q.Get("sendInitialEvents"))
	if match != "" && rv == "" && !watchList {
		return o, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
	}
	if match != "" && o.Continue != "" {
		return o, apierrors.NewBadRequest("resourceVersionMatch is forbidden when continue is provided")
	}
	if rv != "" {
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil || n < 0 {
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %q", rv))
		}
		switch match {
		case "", string(metav1.ResourceVersionMatchNotOlderThan):
			o.MinRev = n
		case string(metav1.ResourceVersionMatchExact):
			if n == 0 {
				return o, apierrors.NewBadRequest(`resourceVersionMatch "exact" is forbidden for resourceVersion "0"`)
			}
			o.Rev = n
		default:
			return o, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersionMatch %q: must be Exact or NotOlderThan", match))
		}
	}
	o.AllowBookmark = isTrue(q.Get("allowWatchBookmarks"))
	if v := q.Get("sendInitialEvents"); v != "" {
		o.SendInitial = isTrue(v)
	}
	return o, nil
}

func (s *Server) list(req *request) error {
	o, err := s.listOptions(req)
	if err != nil {
		return err
	}
	neg, err := negotiate(req.r, true, false)
	if err != nil {
		return err
	}
	o.Shared = true // encoded only, never changed
	res, err := s.objects.List(req.ctx, req.res, o)
	if err != nil {
		return err
	}
	for i, ce := range res.Unreadable {
		s.log.Error("object left out of a list: its stored value does not open", "auditID", auditID(req.ctx), "path", req.r.URL.Path, "key", ce.Key, "err", ce.Err)
		switch {
		case i < maxUnreadableWarnings:
			addWarning(req.w, ce.Object()+" is left out: its stored value cannot be read (corrupt, or sealed with a key the encryption configuration no longer has)")
		case i == maxUnreadableWarnings:
			addWarning(req.w, fmt.Sprintf("%d more objects are left out for the same reason; the server log names them", len(res.Unreadable)-i))
		}
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(res.Rev, 10), Continue: res.Continue, RemainingItemCount: res.Remaining}
	return s.writeItems(req, neg, lm, res.Items)
}

// writeItems answers a list with its items, in the negotiated format.
func (s *Server) writeItems(req *request, neg negotiated, lm metav1.ListMeta, items []*store.Entry) error {
	switch neg.format {
	case formatTable, formatPartialMetadata:
		objs := make([]catalog.Object, 0, len(items))
		for _, e := range items {
			obj, err := e.Object()
			if err != nil {
				return err
			}
			objs = append(objs, obj)
		}
		if neg.format == formatPartialMetadata {
			list := &metav1.PartialObjectMetadataList{ListMeta: lm}
			list.APIVersion, list.Kind = neg.tableGV, "PartialObjectMetadataList"
			for _, obj := range objs {
				list.Items = append(list.Items, *partialMetadata(obj, neg.tableGV))
			}
			return writeEncoded(req.w, http.StatusOK, neg, list)
		}
		t, err := s.table(req, neg.tableGV, objs, lm)
		if err != nil {
			return err
		}
		return writeJSON(req.w, http.StatusOK, neg.contentType, t)
	}
	if neg.format == formatProtobuf {
		body, err := encodeProtobufList(req.res, lm, items)
		if err != nil {
			return err
		}
		writeBytes(req.w, http.StatusOK, neg.contentType, body)
		return nil
	}
	if neg.format == formatYAML {
		body, err := yaml.JSONToYAML(encodeList(req.res, lm, items))
		if err != nil {
			return err
		}
		writeBytes(req.w, http.StatusOK, neg.contentType, body)
		return nil
	}
	req.w.Header().Set("Content-Type", neg.contentType)
	req.w.WriteHeader(http.StatusOK)
	return writeList(req.w, req.res, lm, items)
}

func listHeader(res *catalog.Resource, lm metav1.ListMeta) []byte {
	meta, _ := json.Marshal(lm)
	return fmt.Appendf(nil, `{"kind":%q,"apiVersion":%q,"metadata":%s,"items":[`, res.ListKind(), res.GroupVersion.String(), meta)
}

// writeList streams a list response around already-encoded items, so a
// large list is never copied into one buffer.
func writeList(w io.Writer, res *catalog.Resource, lm metav1.ListMeta, items []*store.Entry) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(listHeader(res, lm))
	for i, e := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := e.WriteItemJSON(bw); err != nil {
			return err
		}
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// encodeList assembles a list response in memory.
func encodeList(res *catalog.Resource, lm metav1.ListMeta, items []*store.Entry) []byte {
	var b bytes.Buffer
	writeList(&b, res, lm, items)
	return b.Bytes()
}

// readObject reads, decodes and checks the namespace of a request body in
// JSON, YAML or Kubernetes protobuf.
func (s *Server) readObject(req *request) (catalog.Object, error) {
	obj, err := s.readTyped(req, req.bodyType())
	if err != nil {
		return nil, err
	}
	if err := checkNamespace(req, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// readTyped reads and decodes a request body of type t.
func (s *Server) readTyped(req *request, t bodyType) (catalog.Object, error) {
	directive, err := fieldValidation(req.r)
	if err != nil {
		return nil, err
	}
	if contentType(req.r) == protobufContentType {
		data, err := readBody(req.r)
		if err != nil {
			return nil, err
		}
		obj := t.New()
		if err := decodeProtobuf(data, obj, t.GVK.Kind); err != nil {
			return nil, err
		}
		if err := checkTypeMeta(t, obj); err != nil {
			return nil, err
		}
		if err := checkObjectText(obj); err != nil {
			return nil, err
		}
		auditRequestObject(req.ctx, obj)
		return obj, nil
	}
	data, err := bodyJSON(req.r)
	if err != nil {
		return nil, err
	}
	obj, warnings, err := decodeObject(t, data, directive)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		addWarning(req.w, w)
	}
	auditRequestObject(req.ctx, obj)
	return obj, nil
}

// decodeChecked decodes a JSON object for req, passes strictness warnings
// to the client and checks its namespace.
func (s *Server) decodeChecked(req *request, data []byte, directive string) (catalog.Object, error) {
	obj, warnings, err := decodeObject(req.bodyType(), data, directive)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		addWarning(req.w, w)
	}
	if err := checkNamespace(req, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func checkNamespace(req *request, obj catalog.Object) error {
	if !req.res.Namespaced {
		obj.SetNamespace("")
		return nil
	}
	switch ns := obj.GetNamespace(); {
	case ns == "":
		obj.SetNamespace(req.ri.Namespace)
	case ns != req.ri.Namespace:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

func (s *Server) create(req *request) error {
	if req.res.Namespaced && req.ri.Namespace == "" {
		return errNotFoundPath()
	}
	o, err := writeOptions(req.r, "CreateOptions", "")
	if err != nil {
		return err
	}
	obj, err := s.readObject(req)
	if err != nil {
		return err
	}
	e, err := s.objects.Create(req.ctx, req.res, obj, o)
	if err != nil {
		return err
	}
	return s.writeEntry(req, http.StatusCreated, e)
}

// bodyType is the type of the objects a request reads and writes: the
// resource's, or a subresource's own kind (scale).
func (req *request) bodyType() bodyType {
	if sub := req.sub; sub != nil && sub.View != nil {
		return bodyType{New: sub.New, GVK: sub.GroupVersionKind, Name: req.res.Name + "/" + sub.Name}
	}
	return bodyTypeOf(req.res)
}

// target is what a request names.
func (req *request) target() store.Target {
	return store.Target{Resource: req.res, Subresource: req.sub, Namespace: req.ri.Namespace, Name: req.ri.Name}
}

func (s *Server) update(req *request) error {
	o, err := writeOptions(req.r, "UpdateOptions", "")
	if err != nil {
		return err
	}
	obj, err := s.readObject(req)
	if err != nil {
		return err
	}
	if obj.GetName() != req.ri.Name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.GetName(), req.ri.Name))
	}
	e, err := s.objects.Update(req.ctx, req.target(), o, func(catalog.Object) (catalog.Object, error) {
		return obj.DeepCopyObject().(catalog.Object), nil
	})
	if err != nil {
		return err
	}
	return s.writeEntry(req, http.StatusOK, e)
}

func (s *Server) delete(req *request) error {
	dry, err := dryRun(req.r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(req.r)
	if err != nil {
		return err
	}
	if len(opts.DryRun) > 0 {
		dry = true
	}
	if ptr.Deref(opts.IgnoreStoreReadErrorWithClusterBreakingPotential, false) {
		return s.deleteCorrupt(req, dry)
	}
	var pre store.Preconditions
	if opts.Preconditions != nil {
		if opts.Preconditions.UID != nil {
			pre.UID = string(*opts.Preconditions.UID)
		}
		if opts.Preconditions.ResourceVersion != nil {
			pre.ResourceVersion = *opts.Preconditions.ResourceVersion
		}
	}
	e, deleted, err := s.objects.Delete(req.ctx, req.target(), store.DeleteOptions{Preconditions: pre, DryRun: dry,
		Propagation: opts.PropagationPolicy, OrphanDependents: opts.OrphanDependents, GracePeriodSeconds: opts.GracePeriodSeconds})
	if err != nil {
		return err
	}
	if deleted && !req.res.ReturnDeletedObject {
		return respond(req.w, req.r, http.StatusOK, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusSuccess,
			Details: &metav1.StatusDetails{
				Name: req.ri.Name, Group: req.res.GroupVersion.Group, Kind: req.res.Name, UID: uidOf(e),
			},
		})
	}
	return s.writeEntry(req, http.StatusOK, e)
}

// deleteOptions reads DeleteOptions from the body and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) > 0 && contentType(r) == protobufContentType {
		if err := decodeProtobuf(data, opts, "DeleteOptions"); err != nil {
			return nil, err
		}
	} else if len(bytes.TrimSpace(data)) > 0 {
		if err := checkText(data); err != nil {
			return nil, err
		}
		if contentType(r) != "application/json" {
			if data, err = yamlToJSON(data); err != nil {
				return nil, err
			}
		}
		if err := json.Unmarshal(data, opts); err != nil {
			return nil, apierrors.NewBadRequest("invalid DeleteOptions: " + err.Error())
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if opts.PropagationPolicy != nil && opts.OrphanDependents != nil {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "DeleteOptions"}, "",
			field.ErrorList{field.Invalid(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set")})
	}
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "DeleteOptions"}, "",
				field.ErrorList{field.NotSupported(field.NewPath("propagationPolicy"), *opts.PropagationPolicy, []string{"Foreground", "Background", "Orphan", "nil"})})
		}
	}
	for _, v := range opts.DryRun {
		if v != "All" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("Invalid dryRun value %q: valid values are [All]", v))
		}
	}
	if v := q.Get("ignoreStoreReadErrorWithClusterBreakingPotential"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid ignoreStoreReadErrorWithClusterBreakingPotential %q", v))
		}
		opts.IgnoreStoreReadErrorWithClusterBreakingPotential = &b
	}
	if errs := metav1validation.ValidateIgnoreStoreReadError(field.NewPath("ignoreStoreReadErrorWithClusterBreakingPotential"), opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "DeleteOptions"}, "", errs)
	}
	return opts, nil
}

// unsafeDeleteVerb is the permission kube-apiserver asks, beyond delete,
// of a delete that ignores a read error.
const unsafeDeleteVerb = "unsafe-delete-ignore-read-errors"

// deleteCorrupt deletes an object whose stored value cannot be read, as
// kube-apiserver does with ignoreStoreReadErrorWithClusterBreakingPotential:
// only for a requester also allowed unsafe-delete-ignore-read-errors on
// it, only for an object that indeed does not read, with no admission,
// finalizers or grace (nothing can read the object to apply them). The
// audit event carries apiserver.k8s.io/unsafe-delete-ignore-read-error.
func (s *Server) deleteCorrupt(req *request, dry bool) error {
	audit.Annotate(req.ctx, "apiserver.k8s.io/unsafe-delete-ignore-read-error", "")
	gr := req.res.GroupResource()
	if req.sub != nil {
		return apierrors.NewForbidden(gr, req.ri.Name, errors.New("ignoreStoreReadErrorWithClusterBreakingPotential delete option is not allowed on a subresource or non-resource request"))
	}
	u := authn.UserFrom(req.ctx)
	a := Attributes(u, req.ri)
	a.Verb = unsafeDeleteVerb
	decision, reason, err := s.cfg.Authorizer.Authorize(req.ctx, a)
	if err != nil || decision != authz.Allow {
		s.log.Info("forbidden", append(logAttrs(req.r), "user", u.Name, "verb", a.Verb, "resource", a.Resource, "namespace", a.Namespace, "name", a.Name, "reason", reason, "err", err)...)
		return apierrors.NewForbidden(gr, req.ri.Name, fmt.Errorf("not permitted to do %q, reason: %s", unsafeDeleteVerb, reason))
	}
	if err := s.objects.DeleteCorrupt(req.ctx, req.res, req.ri.Namespace, req.ri.Name, dry); err != nil {
		return err
	}
	s.log.Warn("deleted an object whose stored value does not read, without admission or finalizers", append(logAttrs(req.r), "user", u.Name, "dryRun", dry)...)
	return respond(req.w, req.r, http.StatusOK, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     http.StatusOK,
		Details:  &metav1.StatusDetails{Name: req.ri.Name, Kind: req.res.Kind},
	})
}

func (s *Server) deleteCollection(req *request) error {
	if req.sub != nil {
		return errNotFoundPath()
	}
	dry, err := dryRun(req.r)
	if err != nil {
		return err
	}
	opts, err := deleteOptions(req.r)
	if err != nil {
		return err
	}
	o, err := s.listOptions(req)
	if err != nil {
		return err
	}
	deleted, rev, err := s.objects.DeleteCollection(req.ctx, req.res, o, store.DeleteOptions{DryRun: dry || len(opts.DryRun) > 0,
		Propagation: opts.PropagationPolicy, OrphanDependents: opts.OrphanDependents, GracePeriodSeconds: opts.GracePeriodSeconds})
	if err != nil {
		return err
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
	if neg, err := negotiate(req.r, false, false); err == nil && neg.format == formatProtobuf {
		body, err := encodeProtobufList(req.res, lm, deleted)
		if err != nil {
			return err
		}
		writeBytes(req.w, http.StatusOK, neg.contentType, body)
		return nil
	}
	writeBytes(req.w, http.StatusOK, "application/json", encodeList(req.res, lm, deleted))
	return nil
}

// createVirtual serves POST to a resource that computes an answer instead
// of storing an object, such as tokenreviews.
func (s *Server) createVirtual(req *request) error {
	if req.ri.Verb != "create" || req.ri.Name != "" {
		return apierrors.NewMethodNotSupported(req.res.GroupResource(), req.ri.Verb)
	}
	if ref := req.res.ActionOf; ref != nil {
		return s.createThrough(req, ref)
	}
	in, err := s.readTyped(req, bodyTypeOf(req.res))
	if err != nil {
		return err
	}
	if req.res.Namespaced {
		if err := checkNamespace(req, in); err != nil {
			return err
		}
	}
	out, err := s.cfg.Reviews[req.res.GroupVersionResource()](req.ctx, in)
	if err != nil {
		return err
	}
	out.GetObjectKind().SetGroupVersionKind(req.res.GroupVersionKind())
	return respond(req.w, req.r, http.StatusCreated, out)
}

// createAction serves POST to an action subresource of an existing
// object, such as serviceaccounts/token.
func (s *Server) createAction(req *request) error {
	if req.ri.Verb != "create" {
		return apierrors.NewMethodNotSupported(req.res.GroupResource(), req.ri.Verb)
	}
	sub := req.sub
	in, err := s.readTyped(req, bodyType{New: sub.New, GVK: sub.GroupVersionKind, Name: req.res.Name + "/" + sub.Name})
	if err != nil {
		return err
	}
	return s.act(req, in)
}

// createThrough serves POST to a resource whose create is an action on
// the object its body names (bindings: pods/binding).
func (s *Server) createThrough(req *request, ref *catalog.ActionRef) error {
	parent, ok := s.cfg.Catalog.Lookup(req.res.GroupVersion.WithResource(ref.Resource))
	if !ok || parent.Subresource(ref.Subresource) == nil {
		return fmt.Errorf("%s: acts through %s/%s, which is not served", req.res.Name, ref.Resource, ref.Subresource)
	}
	sub := parent.Subresource(ref.Subresource)
	in, err := s.readTyped(req, bodyType{New: sub.New, GVK: sub.GroupVersionKind, Name: req.res.Name})
	if err != nil {
		return err
	}
	if err := checkNamespace(req, in); err != nil {
		return err
	}
	through := *req
	ri := *req.ri
	ri.Name = in.GetName()
	through.ri, through.res, through.sub = &ri, parent, sub
	return s.act(&through, in)
}

// act runs an action subresource with its request object.
func (s *Server) act(req *request, in catalog.Object) error {
	sub := req.sub
	ctx := req.ctx
	dry, err := dryRun(req.r)
	if err != nil {
		return err
	}
	out, err := s.objects.Act(ctx, req.target(), in, store.Options{DryRun: dry}, s.cfg.Actions[catalog.ActionKey{Resource: req.res.GroupVersionResource(), Subresource: sub.Name}])
	if err != nil {
		return err
	}
	if sub.Change != nil {
		return respond(req.w, req.r, http.StatusCreated, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated,
		})
	}
	if st, ok := out.(*metav1.Status); ok {
		// An action may answer with a Status (pods/eviction): its code is
		// the response's, 201 when it has none.
		code := int(st.Code)
		if code == 0 {
			code = http.StatusCreated
			st.Code = http.StatusCreated
		}
		return respond(req.w, req.r, code, st)
	}
	out.GetObjectKind().SetGroupVersionKind(sub.GroupVersionKind)
	return respond(req.w, req.r, http.StatusCreated, out)
}

// uidOf is the UID of a stored object, or "" when it does not decode.
func uidOf(e *store.Entry) types.UID {
	obj, err := e.Object()
	if err != nil {
		return ""
	}
	return obj.GetUID()
}
