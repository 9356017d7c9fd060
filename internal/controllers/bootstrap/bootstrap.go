// Package bootstrap runs the bootstrap-token controllers: the cleaner,
// which deletes expired token Secrets, and the signer, which keeps
// kube-public/cluster-info signed with every signing token so that a
// joining node can check the CA it is given.
package bootstrap

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/bootstraptoken"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// Controller cleans expired tokens and signs cluster-info.
type Controller struct {
	Store   *store.Writer
	Secrets *informer.Informer
	// ConfigMaps is an informer that holds kube-public's cluster-info
	// (and may hold other ConfigMaps).
	ConfigMaps *informer.Informer
	// Server and the CA bundle in force go into the cluster-info
	// kubeconfig; CAPEM is read at each pass, so a reloaded CA reaches it.
	Server string
	CAPEM  func() []byte
	Log    *slog.Logger
	Now    func() time.Time
	// Clean and Sign choose the work: kube-controller-manager's
	// token-cleaner and bootstrap-signer controllers.
	Clean, Sign bool

	secretRes, configMapRes *catalog.Resource
	kick                    chan struct{}
}

// Register subscribes to the informers; call it before they start.
func (c *Controller) Register(secrets, configMaps *catalog.Resource) {
	c.secretRes, c.configMapRes = secrets, configMaps
	c.kick = make(chan struct{}, 1)
	wake := func(string, catalog.Object, catalog.Object) {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
	c.Secrets.AddHandler(func(t string, obj, old catalog.Object) {
		if obj.GetNamespace() == metav1.NamespaceSystem && strings.HasPrefix(obj.GetName(), bootstraptoken.SecretPrefix) {
			wake(t, obj, old)
		}
	})
	c.ConfigMaps.AddHandler(func(t string, obj, old catalog.Object) {
		if obj.GetNamespace() == metav1.NamespacePublic && obj.GetName() == bootstraptoken.ClusterInfoConfigMap {
			wake(t, obj, old)
		}
	})
}

// Run works until ctx ends: on every change, and at least every ten
// seconds, so that a reloaded CA reaches cluster-info and tokens are
// removed soon after they expire.
func (c *Controller) Run(ctx context.Context) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if !c.Secrets.WaitForSync(ctx) || !c.ConfigMaps.WaitForSync(ctx) {
		return
	}
	for {
		if c.Clean {
			c.clean(ctx)
		}
		if c.Sign {
			c.sign(ctx)
		}
		// Wake when the next token expires, or in ten seconds at the latest.
		wait := 10 * time.Second
		valid, _ := c.tokens()
		for _, tok := range valid {
			if tok.Expiration != nil {
				wait = min(wait, max(tok.Expiration.Sub(c.Now())+10*time.Millisecond, 10*time.Millisecond))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-c.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// tokens returns the valid bootstrap tokens in the cache.
func (c *Controller) tokens() (valid []bootstraptoken.Token, expired []string) {
	now := c.Now()
	for _, o := range c.Secrets.List() {
		s := o.(*corev1.Secret)
		if s.Namespace != metav1.NamespaceSystem || s.Type != corev1.SecretTypeBootstrapToken {
			continue
		}
		t, err := bootstraptoken.FromSecret(s)
		if err != nil {
			continue
		}
		if t.Expired(now) {
			expired = append(expired, s.Name)
			continue
		}
		valid = append(valid, t)
	}
	return valid, expired
}

// clean deletes the Secrets of expired tokens.
func (c *Controller) clean(ctx context.Context) {
	_, expired := c.tokens()
	for _, name := range expired {
		_, _, err := c.Store.Delete(ctx, store.ObjectTarget(c.secretRes, metav1.NamespaceSystem, name), store.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			c.Log.Warn("token cleaner: cannot delete an expired token", "secret", name, "err", err)
			continue
		}
		c.Log.Info("token cleaner: deleted an expired bootstrap token", "secret", name)
	}
}

// sign keeps cluster-info current: its kubeconfig, and one detached JWS
// per signing token.
func (c *Controller) sign(ctx context.Context) {
	var ca []byte
	if c.CAPEM != nil {
		ca = c.CAPEM()
	}
	content := renderClusterOnly(c.Server, ca)
	want := map[string]string{bootstraptoken.ClusterInfoKubeconfig: string(content)}
	valid, _ := c.tokens()
	for _, t := range valid {
		if !t.Has(bootstraptoken.UsageSigning) {
			continue
		}
		sig, err := DetachedSignature(string(content), t.ID, t.Secret)
		if err != nil {
			c.Log.Error("bootstrap signer: cannot sign cluster-info", "token", t.ID, "err", err)
			continue
		}
		want[bootstraptoken.JWSKeyPrefix+t.ID] = sig
	}
	cur, ok := c.ConfigMaps.Get(metav1.NamespacePublic, bootstraptoken.ClusterInfoConfigMap)
	if ok && equalData(cur.(*corev1.ConfigMap).Data, want) {
		return
	}
	if !ok {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: bootstraptoken.ClusterInfoConfigMap, Namespace: metav1.NamespacePublic}, Data: want}
		if _, err := c.Store.Create(ctx, c.configMapRes, cm, store.Options{}); err != nil && !apierrors.IsAlreadyExists(err) {
			c.Log.Warn("bootstrap signer: cannot create cluster-info", "err", err)
		}
		return
	}
	_, err := c.Store.Update(ctx, store.ObjectTarget(c.configMapRes, metav1.NamespacePublic, bootstraptoken.ClusterInfoConfigMap), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		cm.Data = want
		return cm, nil
	})
	if err != nil && !apierrors.IsNotFound(err) {
		c.Log.Warn("bootstrap signer: cannot update cluster-info", "err", err)
	}
}

func equalData(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// renderClusterOnly writes a kubeconfig holding only the cluster entry.
func renderClusterOnly(server string, ca []byte) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: ")
	b.WriteString(encodeB64(ca))
	b.WriteString("\n    server: " + server + "\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\npreferences: {}\nusers: null\n")
	return b.Bytes()
}

// DetachedSignature signs content with HS256 keyed by the token secret,
// and returns the compact JWS with its payload removed ("header..sig").
// kubeadm join recomputes this string and compares it byte for byte, so
// the header is written exactly as Kubernetes writes it. (JOSE libraries
// now refuse HMAC keys shorter than the hash, and a token secret is 16
// bytes, so the signature is computed here.)
func DetachedSignature(content, tokenID, tokenSecret string) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "HS256", "kid": tokenID})
	if err != nil {
		return "", err
	}
	h := base64.RawURLEncoding.EncodeToString(header)
	mac := hmac.New(sha256.New, []byte(tokenSecret))
	mac.Write([]byte(h + "." + base64.RawURLEncoding.EncodeToString([]byte(content))))
	return h + ".." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
