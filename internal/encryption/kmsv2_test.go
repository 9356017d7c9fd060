package encryption

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"k8s.io/apiserver/pkg/storage/value"
	envelopekmsv2 "k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2"
	kmsapi "k8s.io/kms/apis/v2"
	kmsservice "k8s.io/kms/pkg/service"

	"github.com/sekisho/sekisho/internal/kmsplugin"
)

// inProcess calls a kmsplugin.Plugin as the gRPC client would, and can
// be taken down.
type inProcess struct {
	p    *kmsplugin.Plugin
	down atomic.Bool
}

var errDown = errors.New("connection refused")

func (c *inProcess) Status(ctx context.Context, in *kmsapi.StatusRequest, _ ...grpc.CallOption) (*kmsapi.StatusResponse, error) {
	if c.down.Load() {
		return nil, errDown
	}
	return c.p.Status(ctx, in)
}

func (c *inProcess) Decrypt(ctx context.Context, in *kmsapi.DecryptRequest, _ ...grpc.CallOption) (*kmsapi.DecryptResponse, error) {
	if c.down.Load() {
		return nil, errDown
	}
	return c.p.Decrypt(ctx, in)
}

func (c *inProcess) Encrypt(ctx context.Context, in *kmsapi.EncryptRequest, _ ...grpc.CallOption) (*kmsapi.EncryptResponse, error) {
	if c.down.Load() {
		return nil, errDown
	}
	return c.p.Encrypt(ctx, in)
}

// kubeService is the same plugin as kube-apiserver's envelope code calls it.
type kubeService struct{ p *kmsplugin.Plugin }

func (s kubeService) Decrypt(ctx context.Context, uid string, req *kmsservice.DecryptRequest) ([]byte, error) {
	r, err := s.p.Decrypt(ctx, &kmsapi.DecryptRequest{Ciphertext: req.Ciphertext, Uid: uid, KeyId: req.KeyID, Annotations: req.Annotations})
	if err != nil {
		return nil, err
	}
	return r.Plaintext, nil
}

func (s kubeService) Encrypt(ctx context.Context, uid string, data []byte) (*kmsservice.EncryptResponse, error) {
	r, err := s.p.Encrypt(ctx, &kmsapi.EncryptRequest{Plaintext: data, Uid: uid})
	if err != nil {
		return nil, err
	}
	return &kmsservice.EncryptResponse{Ciphertext: r.Ciphertext, KeyID: r.KeyId, Annotations: r.Annotations}, nil
}

func (s kubeService) Status(ctx context.Context) (*kmsservice.StatusResponse, error) {
	r, err := s.p.Status(ctx, &kmsapi.StatusRequest{})
	if err != nil {
		return nil, err
	}
	return &kmsservice.StatusResponse{Version: r.Version, Healthz: r.Healthz, KeyID: r.KeyId}, nil
}

func keyLine(id string, b byte) string {
	return id + " " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) + "\n"
}

func newTestKMS(t *testing.T, keys string) (*kmsV2, *inProcess) {
	t.Helper()
	p := &kmsplugin.Plugin{Log: discardLog()}
	if err := p.SetKeys([]byte(keys)); err != nil {
		t.Fatal(err)
	}
	c := &inProcess{p: p}
	k := &kmsV2{name: "testkms", endpoint: "unix:///test.sock", timeout: time.Second, client: c}
	k.init()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k.start(ctx, discardLog(), nil)
	return k, c
}

// TestKMSv2SteadyStateWritesMakeNoCall: one Encrypt at start, then none
// for any number of writes, and no Decrypt for reading them back.
func TestKMSv2SteadyStateWritesMakeNoCall(t *testing.T) {
	k, c := newTestKMS(t, keyLine("kek-1", 1))
	if err := k.Health(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 1000 {
		key := []byte(fmt.Sprintf("/registry/secrets/ns/s%d", i))
		sealed, err := k.Seal(ctx, []byte("value"), key)
		if err != nil {
			t.Fatal(err)
		}
		plain, stale, err := k.Open(ctx, sealed, key)
		if err != nil || stale || string(plain) != "value" {
			t.Fatalf("open: %q stale=%v %v", plain, stale, err)
		}
		if i == 0 {
			if _, _, err := k.Open(ctx, sealed, []byte("/registry/secrets/ns/other")); err == nil {
				t.Error("a value moved to another key opens")
			}
		}
	}
	if e, d := c.p.Encrypts.Load(), c.p.Decrypts.Load(); e != 1 || d != 0 {
		t.Errorf("1,000 writes and reads made %d Encrypt and %d Decrypt calls; want 1 and 0", e, d)
	}
}

// TestKMSv2ReadsOutliveThePlugin: with the plugin down, values whose
// seed is known still read and writes go on; a new process (no seeds)
// cannot read, and says why.
func TestKMSv2ReadsOutliveThePlugin(t *testing.T) {
	k, c := newTestKMS(t, keyLine("kek-1", 1))
	ctx := context.Background()
	sealed, _ := k.Seal(ctx, []byte("value"), []byte("/k"))
	c.down.Store(true)
	k.check(ctx)
	if err := k.Health(); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("health with the plugin down: %v", err)
	}
	if plain, _, err := k.Open(ctx, sealed, []byte("/k")); err != nil || string(plain) != "value" {
		t.Errorf("read with the plugin down: %q %v", plain, err)
	}
	if _, err := k.Seal(ctx, []byte("more"), []byte("/k2")); err != nil {
		t.Errorf("write within the grace after the last answer: %v", err)
	}

	fresh := &kmsV2{name: "testkms", endpoint: "unix:///test.sock", timeout: time.Second, client: c}
	fresh.init()
	fresh.start(context.Background(), discardLog(), nil)
	defer fresh.stop()
	if _, _, err := fresh.Open(ctx, sealed, []byte("/k")); err == nil || !strings.Contains(err.Error(), "does not decrypt the data key") {
		t.Errorf("a read that needs the plugin while it is down: %v", err)
	}
	if _, err := fresh.Seal(ctx, []byte("v"), []byte("/k")); err == nil || !strings.Contains(err.Error(), "has no data key") {
		t.Errorf("a write with no data key: %v", err)
	}
}

// TestKMSv2KeyRotation: a new key id in the plugin makes a new seed;
// values of the old one are stale, and still read.
func TestKMSv2KeyRotation(t *testing.T) {
	rotated := make(chan struct{}, 1)
	k, c := newTestKMS(t, keyLine("kek-1", 1))
	k.onRotate = func() { rotated <- struct{}{} }
	ctx := context.Background()
	old, _ := k.Seal(ctx, []byte("old"), []byte("/k"))
	if err := c.p.SetKeys([]byte(keyLine("kek-2", 2) + keyLine("kek-1", 1))); err != nil {
		t.Fatal(err)
	}
	k.check(ctx)
	select {
	case <-rotated:
	default:
		t.Fatal("no rotation reported")
	}
	if !strings.HasSuffix(KeyOf(append([]byte(prefixKMSv2+"testkms:"), old...)), keyIDHash("kek-1")) {
		t.Error("KeyOf does not name the old key id")
	}
	if k.currentValue(old) {
		t.Error("a value of the old key id is current")
	}
	plain, stale, err := k.Open(ctx, old, []byte("/k"))
	if err != nil || !stale || string(plain) != "old" {
		t.Errorf("old value after rotation: %q stale=%v %v", plain, stale, err)
	}
	fresh, _ := k.Seal(ctx, []byte("new"), []byte("/k"))
	if obj, _ := unmarshalEncryptedObject(fresh); obj.keyID != "kek-2" || !k.currentValue(fresh) {
		t.Errorf("a write after rotation uses key id %q", obj.keyID)
	}
}

// TestKMSv2MatchesKubeAPIServer: values sealed by kube-apiserver's own
// KMS v2 envelope transformer open here, and the reverse, with the same
// plugin behind both.
func TestKMSv2MatchesKubeAPIServer(t *testing.T) {
	k, c := newTestKMS(t, keyLine("kek-1", 1))
	svc := kubeService{c.p}
	ctx := context.Background()
	tr, obj, cacheKey, err := envelopekmsv2.GenerateTransformer(ctx, "uid", svc, true)
	if err != nil {
		t.Fatal(err)
	}
	state := envelopekmsv2.State{
		Transformer: tr, EncryptedObjectKeyID: obj.KeyID, EncryptedObjectEncryptedDEKSource: obj.EncryptedDEKSource,
		EncryptedObjectAnnotations: obj.Annotations, EncryptedObjectEncryptedDEKSourceType: obj.EncryptedDEKSourceType,
		UID: "uid", ExpirationTimestamp: time.Now().Add(time.Hour), CacheKey: cacheKey, KMSProviderName: "testkms",
	}
	kube := envelopekmsv2.NewEnvelopeTransformer(svc, "testkms", func() (envelopekmsv2.State, error) { return state, nil }, "apiserver-1")
	key := []byte("/registry/secrets/default/s1")

	fromKube, err := kube.TransformToStorage(ctx, []byte("sealed by kube"), value.DefaultContext(key))
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := k.Open(ctx, fromKube, key)
	if err != nil || string(plain) != "sealed by kube" {
		t.Errorf("kube's value opens here as %q, %v", plain, err)
	}
	ours, err := k.Seal(ctx, []byte("sealed by sekisho"), key)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err = kube.TransformFromStorage(ctx, ours, value.DefaultContext(key))
	if err != nil || string(plain) != "sealed by sekisho" {
		t.Errorf("our value opens in kube as %q, %v", plain, err)
	}
	if _, _, err := kube.TransformFromStorage(ctx, ours, value.DefaultContext([]byte("/registry/secrets/default/s2"))); err == nil {
		t.Error("kube opens our value under another storage key")
	}
}

func TestKMSConfigValidation(t *testing.T) {
	for _, tc := range []struct{ kms, want string }{
		{`{name: a, endpoint: "unix:///s.sock"}`, "apiVersion v1 is not served"},
		{`{name: a, apiVersion: v2, endpoint: "tcp://x:1"}`, `unsupported scheme "tcp" for KMS provider, only unix is supported`},
		{`{name: "a:b", apiVersion: v2, endpoint: "unix:///s.sock"}`, "invalid KMS provider name a:b, must not contain ':'"},
		{`{name: a, apiVersion: v2, endpoint: "unix:///s.sock", cachesize: 10}`, "cachesize is not supported in v2"},
		{`{name: a, apiVersion: v2}`, "endpoint is a mandatory field for a kms"},
		{`{name: a, apiVersion: v3, endpoint: "unix:///s.sock"}`, "only v1 and v2 are supported"},
	} {
		_, err := ParseConfig([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: " + tc.kms + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kms %s: %v, want %q", tc.kms, err, tc.want)
		}
	}
	_, err := ParseConfig([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {name: a, apiVersion: v2, endpoint: \"unix:///s.sock\"}\n- resources: [configmaps]\n  providers:\n  - kms: {name: a, apiVersion: v2, endpoint: \"unix:///t.sock\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "duplicate KMS provider name a, names must be unique") {
		t.Errorf("duplicate names: %v", err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkKMSv2Seal seals 1 KiB values with a KMS v2 provider whose
// plugin runs in process: kms-calls/op is the Encrypt and Decrypt calls
// per write after start, which KDF mode makes 0.
func BenchmarkKMSv2Seal(b *testing.B) {
	p := &kmsplugin.Plugin{}
	p.SetKeys([]byte(keyLine("kek-1", 1)))
	k := &kmsV2{name: "bench", endpoint: "unix:///bench.sock", timeout: time.Second, client: &inProcess{p: p}}
	k.init()
	k.check(context.Background())
	plain := bytes.Repeat([]byte("v"), 1024)
	start := k.calls.Load()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := k.Seal(context.Background(), plain, []byte("/registry/secrets/ns/name")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(k.calls.Load()-start)/float64(b.N), "kms-calls/op")
}

// BenchmarkAESGCMSeal is the aesgcm provider on the same values.
func BenchmarkAESGCMSeal(b *testing.B) {
	g, _ := newAESGCM(bytes.Repeat([]byte{1}, 32))
	plain := bytes.Repeat([]byte("v"), 1024)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := g.Seal(context.Background(), plain, []byte("/registry/secrets/ns/name")); err != nil {
			b.Fatal(err)
		}
	}
}
