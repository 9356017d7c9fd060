package apiserver

import (
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// format is a response encoding the server can produce.
type format int

const (
	formatJSON format = iota + 1
	formatYAML
	formatTable           // meta.k8s.io Table, for kubectl get
	formatDiscoveryV2     // apidiscovery.k8s.io/v2 APIGroupDiscoveryList
	formatPartialMetadata // meta.k8s.io PartialObjectMetadata(List)
	formatProtobuf        // application/vnd.kubernetes.protobuf
)

// mediaType is one parsed entry of an Accept header.
type mediaType struct {
	base   string
	params map[string]string
}

func parseAccept(header string) []mediaType {
	if strings.TrimSpace(header) == "" {
		return []mediaType{{base: "*/*"}}
	}
	var out []mediaType
	for _, part := range strings.Split(header, ",") {
		base, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		out = append(out, mediaType{base: base, params: params})
	}
	return out
}

// negotiated is the chosen encoding and the Content-Type to answer with.
type negotiated struct {
	format      format
	contentType string
	tableGV     string // meta.k8s.io/v1 or v1beta1 for Table and PartialObjectMetadata
	protobuf    bool   // PartialObjectMetadata in protobuf rather than JSON
}

// negotiate picks the first acceptable encoding from the Accept header.
// allowTable permits Table and PartialObjectMetadata (resource reads);
// allowDiscovery permits aggregated discovery (/api and /apis).
func negotiate(r *http.Request, allowTable, allowDiscovery bool) (negotiated, error) {
	for _, mt := range parseAccept(r.Header.Get("Accept")) {
		as, g, v := mt.params["as"], mt.params["g"], mt.params["v"]
		switch mt.base {
		case "application/json", "application/*", "*/*":
			switch {
			case as == "" && g == "":
				return negotiated{format: formatJSON, contentType: "application/json"}, nil
			case allowTable && as == "Table" && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1"):
				return negotiated{format: formatTable, tableGV: "meta.k8s.io/" + v,
					contentType: "application/json;as=Table;v=" + v + ";g=meta.k8s.io"}, nil
			case allowTable && (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1"):
				return negotiated{format: formatPartialMetadata, tableGV: "meta.k8s.io/" + v,
					contentType: "application/json;as=" + as + ";v=" + v + ";g=meta.k8s.io"}, nil
			case allowDiscovery && as == "APIGroupDiscoveryList" && g == "apidiscovery.k8s.io" && v == "v2":
				return negotiated{format: formatDiscoveryV2, contentType: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}, nil
			}
		case "application/yaml":
			if as == "" {
				return negotiated{format: formatYAML, contentType: "application/yaml"}, nil
			}
		case protobufContentType:
			switch {
			case as == "" && g == "":
				return negotiated{format: formatProtobuf, contentType: protobufContentType}, nil
			case allowTable && (as == "PartialObjectMetadata" || as == "PartialObjectMetadataList") && g == "meta.k8s.io" && (v == "v1" || v == "v1beta1"):
				return negotiated{format: formatPartialMetadata, tableGV: "meta.k8s.io/" + v, protobuf: true,
					contentType: protobufContentType + ";as=" + as + ";v=" + v + ";g=meta.k8s.io"}, nil
			}
		}
	}
	return negotiated{}, notAcceptable()
}

// notAcceptable is kube-apiserver's 406 for an Accept header it cannot satisfy.
func notAcceptable() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotAcceptable,
		Reason:  metav1.StatusReasonNotAcceptable,
		Message: "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io",
	}}
}

// unsupportedMediaType is the 415 for a request body the server cannot read.
func unsupportedMediaType(contentType string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusUnsupportedMediaType,
		Reason:  metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeUnexpectedServerResponse, Message: contentType}}},
	}}
}
