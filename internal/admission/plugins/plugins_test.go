package plugins

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/admission/plugins/ownerreferencespermissionenforcement"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/authz"
	"github.com/sekisho/sekisho/internal/authz/rbac"
	"github.com/sekisho/sekisho/internal/serviceip"
)

// grants is an authorizer that allows "verb signers/name" for the listed
// pairs only.
func grants(allowed ...string) authz.Authorizer {
	return authz.AuthorizerFunc(func(_ context.Context, a authz.Attributes) (authz.Decision, string, error) {
		if slices.Contains(allowed, a.Verb+" "+a.Resource+"/"+a.Name) {
			return authz.Allow, "", nil
		}
		return authz.NoOpinion, "", nil
	})
}

func deps(z authz.Authorizer) Deps {
	return Deps{
		Authorizer: z, RBAC: rbac.NewIndex(), Services: &serviceip.Allocator{},
		Namespaced: func(schema.GroupVersionResource) bool { return true },
		Namespace: func(context.Context, string) (*corev1.Namespace, error) {
			return &corev1.Namespace{}, nil
		},
		Pod:  func(context.Context, string, string) (*corev1.Pod, error) { return nil, nil },
		Node: func(context.Context, string) (*corev1.Node, error) { return nil, nil },
		ServiceAccount: func(context.Context, string, string) (*corev1.ServiceAccount, error) {
			return &corev1.ServiceAccount{}, nil
		},
		LimitRanges:     func(context.Context, string) ([]*corev1.LimitRange, error) { return nil, nil },
		Pods:            func(context.Context, string) ([]*corev1.Pod, error) { return nil, nil },
		PriorityClasses: func(context.Context) ([]*schedulingv1.PriorityClass, error) { return nil, nil },
		StorageClasses:  func(context.Context) ([]*storagev1.StorageClass, error) { return nil, nil },
		ResourceQuotas:  func(context.Context, string, bool) ([]*corev1.ResourceQuota, int64, error) { return nil, 1, nil },
		RuntimeClass: func(_ context.Context, name string) (*nodev1.RuntimeClass, error) {
			return nil, apierrors.NewNotFound(nodev1.Resource("runtimeclasses"), name)
		},
		IngressClasses: func(context.Context) ([]*networkingv1.IngressClass, error) { return nil, nil },
		Mappings: func(gk schema.GroupKind, version string) []ownerreferencespermissionenforcement.Mapping {
			if gk.Kind == "ConfigMap" && gk.Group == "" && version == "v1" {
				return []ownerreferencespermissionenforcement.Mapping{{Resource: corev1.SchemeGroupVersion.WithResource("configmaps"), Namespaced: true}}
			}
			return nil
		},
	}
}

func TestDefaultChain(t *testing.T) {
	c, err := New(deps(grants())).Build(DefaultNames())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ServiceAllocation", "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "TaintNodesByCondition", "PodSecurity", "Priority", "DefaultTolerationSeconds", "RBACEscalation",
		"DefaultStorageClass", "StorageObjectInUseProtection", "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "DefaultIngressClass", "ResourceQuota"}
	if !slices.Equal(c.Names, want) {
		t.Errorf("default chain %v, want %v", c.Names, want)
	}
	// Off by default, as in kube-apiserver: the rest can be named.
	off := []string{"AlwaysPullImages", "PodNodeSelector", "EventRateLimit", "OwnerReferencesPermissionEnforcement", "DenyServiceExternalIPs"}
	if got := New(Deps{}).Names(); !slices.Equal(slices.DeleteFunc(got, func(n string) bool { return slices.Contains(off, n) }), DefaultNames()) {
		t.Errorf("nameable plugins %v, want %v and %v", got, DefaultNames(), off)
	}
}

// A plugin whose dependency is missing fails the build, naming itself.
func TestMissingDependency(t *testing.T) {
	d := deps(grants())
	d.Node = nil
	_, err := New(d).Build(DefaultNames())
	if err == nil || !strings.HasPrefix(err.Error(), "admission plugin NodeRestriction:") {
		t.Errorf("missing node reader: %v", err)
	}
	d = deps(grants())
	d.Services = nil
	if _, err := New(d).Build(nil); err == nil || !strings.HasPrefix(err.Error(), "admission plugin ServiceAllocation:") {
		t.Errorf("missing allocator: %v", err)
	}
}

func csrPEM(t *testing.T, subject pkix.Name) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var csrGVR = certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests")

func csrWrite(op admission.Operation, sub string, csr, old *certificatesv1.CertificateSigningRequest) *admission.Attributes {
	a := &admission.Attributes{Operation: op, Resource: csrGVR, Subresource: sub, Name: csr.Name, Object: csr,
		User: &authn.User{Name: "erin", Groups: []string{authn.GroupAuthenticated}}}
	if old != nil {
		a.OldObject = old
	}
	return a
}

func TestCertificatePlugins(t *testing.T) {
	ctx := context.Background()
	chain := func(z authz.Authorizer) *admission.Chain {
		c, err := New(deps(z)).Build(DefaultNames())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	masters := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "m"},
		Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Request: csrPEM(t, pkix.Name{CommonName: "erin", Organization: []string{"system:masters"}})},
	}
	err := chain(grants()).Validate(ctx, csrWrite(admission.Create, "", masters, nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed") {
		t.Errorf("system:masters request: %v", err)
	}
	other := masters.DeepCopy()
	other.Spec.SignerName = "example.com/anything"
	if err := chain(grants()).Validate(ctx, csrWrite(admission.Create, "", other, nil)); err != nil {
		t.Errorf("system:masters to another signer: %v", err)
	}

	approved := masters.DeepCopy()
	approved.Spec.SignerName = "example.com/issuer"
	for _, c := range []struct {
		z    authz.Authorizer
		sub  string
		want string
	}{
		{grants(), "approval", `user not permitted to approve requests with signerName "example.com/issuer"`},
		{grants("approve signers/example.com/issuer"), "approval", ""},
		{grants("approve signers/example.com/*"), "approval", ""},
		{grants("sign signers/example.com/issuer"), "approval", "not permitted to approve"},
		{grants(), "status", `user not permitted to sign requests with signerName "example.com/issuer"`},
		{grants("sign signers/example.com/*"), "status", ""},
	} {
		next := approved.DeepCopy()
		next.Status.Certificate = []byte("new")
		err := chain(c.z).Validate(ctx, csrWrite(admission.Update, c.sub, next, approved))
		if (c.want == "") != (err == nil) || (err != nil && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.want))) {
			t.Errorf("%s with %v: got %v, want %q", c.sub, c.z, err, c.want)
		}
	}
	// A status write that keeps the certificate (a condition) needs no "sign".
	if err := chain(grants()).Validate(ctx, csrWrite(admission.Update, "status", approved.DeepCopy(), approved)); err != nil {
		t.Errorf("status write without a new certificate: %v", err)
	}
}
