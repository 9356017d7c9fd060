package openapi

import (
	"reflect"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/catalog"
)

// param is an OpenAPI parameter, kept inline on every operation: kubectl
// only recognises fieldValidation when it is written out on the PATCH
// operation itself.
type param struct {
	name, in, typ, description string
	required                   bool
}

var (
	pName      = param{"name", "path", "string", "name of the object", true}
	pNamespace = param{"namespace", "path", "string", "object name and auth scope, such as for teams and projects", true}
	pPretty    = param{"pretty", "query", "string", "If 'true', then the output is pretty printed.", false}
	pDryRun    = param{"dryRun", "query", "string", "When present, indicates that modifications should not be persisted. The only valid value is All.", false}
	pManager   = param{"fieldManager", "query", "string", "fieldManager is a name associated with the actor or entity that is making these changes.", false}
	pFieldVal  = param{"fieldValidation", "query", "string", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: Ignore, Warn (the default) and Strict.", false}
	pForce     = param{"force", "query", "boolean", "Force is going to \"force\" Apply requests. It is ignored for other patch types.", false}
	pGrace     = param{"gracePeriodSeconds", "query", "integer", "The duration in seconds before the object should be deleted.", false}
	pProp      = param{"propagationPolicy", "query", "string", "Whether and how garbage collection will be performed: Orphan, Background or Foreground.", false}
	listParams = []param{
		{"allowWatchBookmarks", "query", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", false},
		{"continue", "query", "string", "The continue option should be set when retrieving more results from the server.", false},
		{"fieldSelector", "query", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything.", false},
		{"labelSelector", "query", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything.", false},
		{"limit", "query", "integer", "limit is a maximum number of responses to return for a list call.", false},
		{"resourceVersion", "query", "string", "resourceVersion sets a constraint on what resource versions a request may be served from.", false},
		{"resourceVersionMatch", "query", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls.", false},
		{"sendInitialEvents", "query", "boolean", "sendInitialEvents=true may be set together with watch=true to stream the current state first.", false},
		{"timeoutSeconds", "query", "integer", "Timeout for the list/watch call.", false},
		{"watch", "query", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", false},
	}
)

func (p param) render(v2 bool) map[string]any {
	m := map[string]any{"name": p.name, "in": p.in, "description": p.description}
	if p.required {
		m["required"] = true
	}
	if v2 {
		m["type"] = p.typ
		m["uniqueItems"] = true
	} else {
		m["schema"] = map[string]any{"type": p.typ, "uniqueItems": true}
	}
	return m
}

// document is one OpenAPI document under construction.
type document struct {
	gen   *generator
	paths map[string]map[string]any
}

func newDocument(v2 bool) *document {
	return &document{gen: newGenerator(v2), paths: map[string]map[string]any{}}
}

// typeOf returns the struct type behind a resource's New.
func typeOf(obj any) reflect.Type {
	t := reflect.TypeOf(obj)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// listTypeOf finds FooList beside Foo in its package, through the Items
// field of a list object built by reflection.
func listSchema(g *generator, res *catalog.Resource, itemRef string) string {
	t := typeOf(res.New())
	name := strings.TrimSuffix(schemaName(t), t.Name()) + res.ListKind()
	if _, ok := g.defs[name]; !ok {
		listMeta := g.define(reflect.TypeOf(metav1.ListMeta{}))
		g.defs[name] = map[string]any{
			"type":        "object",
			"description": res.ListKind() + " is a list of " + res.Kind + ".",
			"required":    []any{"items"},
			"properties": map[string]any{
				"apiVersion": map[string]any{"type": "string", "description": metav1.TypeMeta{}.SwaggerDoc()["apiVersion"]},
				"kind":       map[string]any{"type": "string", "description": metav1.TypeMeta{}.SwaggerDoc()["kind"]},
				"metadata":   g.describe(map[string]any{"$ref": g.ref(listMeta)}, "Standard list metadata."),
				"items":      map[string]any{"type": "array", "items": map[string]any{"$ref": itemRef}, "description": "List of " + strings.ToLower(res.Kind) + " objects."},
			},
			"x-kubernetes-group-version-kind": []any{gvkMap(res.GroupVersion.WithKind(res.ListKind()))},
		}
	}
	return name
}

func gvkMap(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// operationID builds names like readCoreV1NamespacedSecret, as Kubernetes does.
func operationID(verb string, res *catalog.Resource, namespaced bool, sub string) string {
	group := "core"
	if g := res.GroupVersion.Group; g != "" {
		group = strings.Split(g, ".")[0]
	}
	var b strings.Builder
	b.WriteString(verb)
	b.WriteString(upperFirst(group))
	b.WriteString(upperFirst(res.GroupVersion.Version))
	if namespaced {
		b.WriteString("Namespaced")
	}
	b.WriteString(res.Kind)
	if verb == "list" && !namespaced && res.Namespaced {
		b.WriteString("ForAllNamespaces")
	}
	b.WriteString(upperFirst(sub))
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// addResource adds the schemas and paths of one resource.
func (d *document) addResource(res *catalog.Resource) {
	g := d.gen
	t := typeOf(res.New())
	name := g.define(t)
	g.defs[name]["x-kubernetes-group-version-kind"] = []any{gvkMap(res.GroupVersionKind())}
	ref := g.ref(name)
	listRef := ""
	if !res.Virtual {
		listRef = g.ref(listSchema(g, res, ref))
	}
	statusRef := g.ref(g.define(reflect.TypeOf(metav1.Status{})))
	patchRef := g.ref(g.define(reflect.TypeOf(metav1.Patch{})))
	deleteRef := g.ref(g.define(reflect.TypeOf(metav1.DeleteOptions{})))
	gvk := gvkMap(res.GroupVersionKind())

	prefix := "/api/" + res.GroupVersion.Version
	if res.GroupVersion.Group != "" {
		prefix = "/apis/" + res.GroupVersion.String()
	}
	collection := prefix + "/" + res.Name
	namespacedCollection := prefix + "/namespaces/{namespace}/" + res.Name
	tag := strings.ReplaceAll(strings.TrimPrefix(prefix, "/"), "/", "_")

	op := func(action, id string, params []param, respRef string, body string, bodyTypes ...string) map[string]any {
		o := map[string]any{
			"operationId":                     id,
			"tags":                            []any{tag},
			"x-kubernetes-action":             action,
			"x-kubernetes-group-version-kind": gvk,
		}
		var ps []any
		for _, p := range params {
			ps = append(ps, p.render(g.v2))
		}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		resp := map[string]any{"description": "OK"}
		if g.v2 {
			resp["schema"] = map[string]any{"$ref": respRef}
			o["produces"] = []any{"application/json", "application/yaml"}
			o["schemes"] = []any{"https"}
			if body != "" {
				o["consumes"] = toAny(bodyTypes)
				bp := map[string]any{"name": "body", "in": "body", "required": true, "schema": map[string]any{"$ref": body}}
				o["parameters"] = append(ps, bp)
			}
		} else {
			resp["content"] = map[string]any{
				"application/json": map[string]any{"schema": map[string]any{"$ref": respRef}},
				"application/yaml": map[string]any{"schema": map[string]any{"$ref": respRef}},
			}
			if body != "" {
				content := map[string]any{}
				for _, bt := range bodyTypes {
					content[bt] = map[string]any{"schema": map[string]any{"$ref": body}}
				}
				o["requestBody"] = map[string]any{"required": true, "content": content}
			}
		}
		codes := map[string]any{"200": resp, "401": map[string]any{"description": "Unauthorized"}}
		if action == "post" {
			codes["201"] = resp
		}
		o["responses"] = codes
		return o
	}
	write := []param{pDryRun, pManager, pFieldVal}
	patchParams := []param{pDryRun, pManager, pFieldVal, pForce}
	patchTypes := []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	deleteParams := []param{pDryRun, pGrace, pProp}

	addCollection := func(path string, namespaced bool) {
		pathParams := []param{pPretty}
		if namespaced {
			pathParams = append([]param{pNamespace}, pathParams...)
		}
		item := map[string]any{"parameters": renderParams(pathParams, g.v2)}
		item["get"] = op("list", operationID("list", res, namespaced, ""), listParams, listRef, "")
		if (namespaced || !res.Namespaced) && !res.Computed {
			item["post"] = op("post", operationID("create", res, namespaced, ""), write, ref, ref, "application/json", "application/yaml")
			item["delete"] = op("deletecollection", operationID("deleteCollection", res, namespaced, ""),
				append(append([]param{}, listParams...), deleteParams...), statusRef, deleteRef, "application/json")
		}
		d.paths[path] = item
	}
	addItem := func(path string, namespaced bool, sub string, verbs []string) {
		pathParams := []param{pName, pPretty}
		if namespaced {
			pathParams = []param{pName, pNamespace, pPretty}
		}
		item := map[string]any{"parameters": renderParams(pathParams, g.v2)}
		for _, v := range verbs {
			switch v {
			case "get":
				item["get"] = op("get", operationID("read", res, namespaced, sub), nil, ref, "")
			case "update":
				item["put"] = op("put", operationID("replace", res, namespaced, sub), write, ref, ref, "application/json", "application/yaml")
			case "patch":
				item["patch"] = op("patch", operationID("patch", res, namespaced, sub), patchParams, ref, patchRef, patchTypes...)
			case "delete":
				item["delete"] = op("delete", operationID("delete", res, namespaced, sub), deleteParams, ref, deleteRef, "application/json")
			}
		}
		d.paths[path] = item
	}

	if res.Virtual {
		path := collection
		pathParams := []param{pPretty}
		if res.Namespaced {
			path, pathParams = namespacedCollection, []param{pNamespace, pPretty}
		}
		d.paths[path] = map[string]any{
			"parameters": renderParams(pathParams, g.v2),
			"post":       op("post", operationID("create", res, res.Namespaced, ""), write, ref, ref, "application/json", "application/yaml"),
		}
		return
	}
	addAction := func(path string, namespaced bool, s *catalog.Subresource) {
		pathParams := []param{pName, pPretty}
		if namespaced {
			pathParams = []param{pName, pNamespace, pPretty}
		}
		subRef := g.ref(g.define(typeOf(s.New())))
		o := op("post", operationID("create", res, namespaced, s.Name), write, subRef, subRef, "application/json", "application/yaml")
		o["x-kubernetes-group-version-kind"] = gvkMap(s.GroupVersionKind)
		d.paths[path] = map[string]any{"parameters": renderParams(pathParams, g.v2), "post": o}
	}
	itemVerbs := []string{"get", "update", "patch", "delete"}
	if res.Computed {
		itemVerbs = []string{"get"}
	}
	if res.Namespaced {
		addCollection(collection, false)
		addCollection(namespacedCollection, true)
		addItem(namespacedCollection+"/{name}", true, "", itemVerbs)
		for _, s := range res.Subresources {
			if s.Connect {
				continue // a stream or a proxy: no object schema to describe
			}
			if s.Action {
				addAction(namespacedCollection+"/{name}/"+s.Name, true, s)
				continue
			}
			addItem(namespacedCollection+"/{name}/"+s.Name, true, s.Name, s.Verbs)
		}
		return
	}
	addCollection(collection, false)
	addItem(collection+"/{name}", false, "", itemVerbs)
	for _, s := range res.Subresources {
		if s.Connect {
			continue
		}
		if s.Action {
			addAction(collection+"/{name}/"+s.Name, false, s)
			continue
		}
		addItem(collection+"/{name}/"+s.Name, false, s.Name, s.Verbs)
	}
}

func renderParams(ps []param, v2 bool) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = p.render(v2)
	}
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
