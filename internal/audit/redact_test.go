package audit

import (
	"encoding/base64"
	"strings"
	"testing"
)

const testKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB0xN8bXcu8H\n-----END EC PRIVATE KEY-----\n"

func TestRedact(t *testing.T) {
	secrets := Target{Resource: "secrets"}
	for _, c := range []struct {
		name   string
		target Target
		in     string
		want   string
		omitMF bool
	}{
		{"a Secret's data and stringData, key by key", secrets,
			`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"password":"aHVudGVyMg=="},"stringData":{"user":"admin"},"type":"Opaque"}`,
			`{"apiVersion":"v1","data":{"password":"[redacted]"},"kind":"Secret","metadata":{"name":"s"},"stringData":{"user":"[redacted]"},"type":"Opaque"}`, false},
		{"a bootstrap token", secrets,
			`{"kind":"Secret","apiVersion":"v1","metadata":{"name":"bootstrap-token-abcdef","namespace":"kube-system"},"type":"bootstrap.kubernetes.io/token","data":{"token-id":"YWJjZGVm","token-secret":"MDEyMzQ1Njc4OWFiY2RlZg=="}}`,
			`{"apiVersion":"v1","data":{"token-id":"[redacted]","token-secret":"[redacted]"},"kind":"Secret","metadata":{"name":"bootstrap-token-abcdef","namespace":"kube-system"},"type":"bootstrap.kubernetes.io/token"}`, false},
		{"kubectl apply's copy of a Secret", secrets,
			`{"metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"p\":\"eA==\"}}","team":"a"}},"data":{"p":"eA=="}}`,
			`{"data":{"p":"[redacted]"},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"[redacted]","team":"a"},"name":"s"}}`, false},
		{"a list of Secrets", secrets,
			`{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"a"},"data":{"k":"dg=="}},{"metadata":{"name":"b"}}]}`,
			`{"apiVersion":"v1","items":[{"data":{"k":"[redacted]"},"metadata":{"name":"a"}},{"metadata":{"name":"b"}}],"kind":"SecretList","metadata":{"resourceVersion":"5"}}`, false},
		{"a strategic merge patch of a Secret", secrets,
			`{"data":{"k":"dg==","gone":null}}`,
			`{"data":{"gone":"[redacted]","k":"[redacted]"}}`, false},
		{"a JSON patch of a Secret", secrets,
			`[{"op":"replace","path":"/data/k","value":"dg=="},{"op":"add","path":"/data","value":{"a":"Yg=="}},{"op":"remove","path":"/data/x"}]`,
			`[{"op":"replace","path":"/data/k","value":"[redacted]"},{"op":"add","path":"/data","value":{"a":"[redacted]"}},{"op":"remove","path":"/data/x"}]`, false},
		{"a Secret in a Table row", Target{Resource: "secrets"},
			`{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[{"cells":["s"],"object":{"kind":"Secret","apiVersion":"v1","data":{"k":"dg=="}}}]}`,
			`{"apiVersion":"meta.k8s.io/v1","kind":"Table","rows":[{"cells":["s"],"object":{"apiVersion":"v1","data":{"k":"[redacted]"},"kind":"Secret"}}]}`, false},
		{"a TokenRequest's token", Target{Resource: "serviceaccounts", Subresource: "token"},
			`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{"audiences":["api"]},"status":{"token":"eyJhbGciOi.x.y","expirationTimestamp":"2026-11-29T05:00:00Z"}}`,
			`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["api"]},"status":{"expirationTimestamp":"2026-11-29T05:00:00Z","token":"[redacted]"}}`, false},
		{"a TokenReview's token", Target{Group: "authentication.k8s.io", Resource: "tokenreviews"},
			`{"spec":{"token":"abcdef.0123456789abcdef"},"status":{"authenticated":true,"user":{"username":"u"}}}`,
			`{"spec":{"token":"[redacted]"},"status":{"authenticated":true,"user":{"username":"u"}}}`, false},
		{"a private key in a CSR's status", Target{Group: "certificates.k8s.io", Resource: "certificatesigningrequests", Subresource: "status"},
			`{"status":{"certificate":"` + base64.StdEncoding.EncodeToString([]byte(testKey)) + `"},"spec":{"signerName":"x"}}`,
			`{"spec":{"signerName":"x"},"status":{"certificate":"[redacted]"}}`, false},
		{"a private key anywhere", Target{Resource: "configmaps"},
			`{"data":{"key.pem":` + jsonString(testKey) + `,"ok":"-----BEGIN CERTIFICATE-----"}}`,
			`{"data":{"key.pem":"[redacted]","ok":"-----BEGIN CERTIFICATE-----"}}`, false},
		{"a ConfigMap's data stays", Target{Resource: "configmaps"},
			`{"kind":"ConfigMap","data":{"k":"v"}}`, `{"data":{"k":"v"},"kind":"ConfigMap"}`, false},
		{"managedFields left out", Target{Resource: "pods"},
			`{"metadata":{"name":"p","managedFields":[{"manager":"kubectl"}]},"items":[]}`, `{"items":[],"metadata":{"name":"p"}}`, true},
		{"managedFields of list items left out", Target{Resource: "pods"},
			`{"kind":"PodList","items":[{"metadata":{"name":"p","managedFields":[{"manager":"kubectl"}]}}]}`, `{"items":[{"metadata":{"name":"p"}}],"kind":"PodList"}`, true},
		{"numbers as they were", Target{Resource: "deployments", Group: "apps"},
			`{"spec":{"replicas":12345678901234567890}}`, `{"spec":{"replicas":12345678901234567890}}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Redact(c.target, []byte(c.in), c.omitMF)
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	if got := Redact(secrets, []byte(`{"data":`), false); got != nil {
		t.Errorf("a body that is not JSON: %s, want nothing", got)
	}
}

func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}
