package encryption

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kmsapi "k8s.io/kms/apis/v2"
)

const prefixKMSv2 = "k8s:enc:kms:v2:"

// kube-apiserver's limits and timings for KMS v2.
const (
	kmsKeyIDMaxSize     = 1 << 10
	kmsDEKSourceMaxSize = 1 << 10
	kmsAnnotationsMax   = 32 << 10
	// kmsWriteTTL is how long writes go on with the current data key
	// after the plugin last answered: reads go on for ever.
	kmsWriteTTL = 3 * time.Minute
	// seedSize is the size of a data key seed and of the KDF info.
	seedSize = 32
)

// sekisho asks the plugin for its status more often than kube-apiserver
// (every minute, every 10 s once failing): a rotated key is picked up
// within seconds, for one small call.
var (
	kmsPollHealthy = 5 * time.Second
	kmsPollFailing = time.Second
)

// The EncryptedDEKSourceType values of kube-apiserver's EncryptedObject.
const (
	dekSourceAESGCMKey  = 0
	dekSourceHKDFSeed   = 1
	encryptedObjectData = 1 // field numbers
	encryptedObjectKey  = 2
	encryptedObjectDEK  = 3
	encryptedObjectAnn  = 4
	encryptedObjectType = 5
)

// kmsClient is the plugin's gRPC API (k8s.io/kms/apis/v2).
type kmsClient interface {
	Status(ctx context.Context, in *kmsapi.StatusRequest, opts ...grpc.CallOption) (*kmsapi.StatusResponse, error)
	Decrypt(ctx context.Context, in *kmsapi.DecryptRequest, opts ...grpc.CallOption) (*kmsapi.DecryptResponse, error)
	Encrypt(ctx context.Context, in *kmsapi.EncryptRequest, opts ...grpc.CallOption) (*kmsapi.EncryptResponse, error)
}

// kmsV2 is kube-apiserver's KMS v2 provider in its KDF mode: the plugin
// encrypts one 32-byte seed per key-encryption-key version, and each
// write derives its own AES-256-GCM key from the seed and 32 random
// bytes (HKDF-SHA256), so steady-state writes make no KMS call. Reads
// ask the plugin once per seed they meet, then keep it.
type kmsV2 struct {
	name     string
	endpoint string
	timeout  time.Duration
	client   kmsClient
	conn     *grpc.ClientConn
	log      *slog.Logger
	// onRotate is told when the plugin's key id changed and a new seed
	// now writes, so that stored values get re-encrypted.
	onRotate func()

	state atomic.Pointer[kmsState]
	calls atomic.Int64 // Encrypt and Decrypt calls made

	mu     sync.Mutex
	seeds  map[string][]byte // by seedCacheKey
	health error             // of the last status check
	cancel context.CancelFunc
}

// kmsState is the seed writes use, as the plugin encrypted it.
type kmsState struct {
	seed          []byte
	keyID         string
	encryptedSeed []byte
	annotations   map[string][]byte
	expires       time.Time
}

// encryptedObject is kube-apiserver's EncryptedObject, the protobuf that
// follows a KMS v2 value's prefix.
type encryptedObject struct {
	data          []byte
	keyID         string
	encryptedDEK  []byte
	annotations   map[string][]byte
	dekSourceType uint64
}

func newKMSv2(name, endpoint string, timeout time.Duration) (*kmsV2, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("kms provider %q: endpoint %s: %w", name, endpoint, err)
	}
	k := &kmsV2{name: name, endpoint: endpoint, timeout: timeout, conn: conn, client: kmsapi.NewKeyManagementServiceClient(conn)}
	k.init()
	return k, nil
}

func (k *kmsV2) init() {
	k.seeds = map[string][]byte{}
	k.health = fmt.Errorf("kms provider %q: its plugin at %s has not been asked yet", k.name, k.endpoint)
	k.log = slog.New(slog.DiscardHandler)
}

// start checks the plugin once, then every kmsPollHealthy (kmsPollFailing
// while it fails) until stop. A plugin down at start is not fatal: the
// server serves, its health check fails and writes of this provider's
// resources fail until the plugin answers.
func (k *kmsV2) start(ctx context.Context, log *slog.Logger, onRotate func()) {
	k.mu.Lock()
	k.log, k.onRotate = log, onRotate
	ctx, k.cancel = context.WithCancel(ctx)
	k.mu.Unlock()
	k.check(ctx)
	go func() {
		for {
			wait := kmsPollHealthy
			if k.Health() != nil {
				wait = kmsPollFailing
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			k.check(ctx)
		}
	}()
}

func (k *kmsV2) stop() {
	k.mu.Lock()
	if k.cancel != nil {
		k.cancel()
	}
	k.mu.Unlock()
	if k.conn != nil {
		k.conn.Close()
	}
}

// Health is the result of the last status check.
func (k *kmsV2) Health() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.health
}

func (k *kmsV2) check(ctx context.Context) {
	err := k.status(ctx)
	k.mu.Lock()
	was := k.health
	k.health = err
	k.mu.Unlock()
	switch {
	case err != nil && (was == nil || was.Error() != err.Error()):
		k.log.Error("KMS plugin check failed: reads of values whose seed is known go on; writes stop once the current seed is 3 minutes without an answer",
			"provider", k.name, "endpoint", k.endpoint, "err", err)
	case err == nil && was != nil:
		k.log.Info("KMS plugin healthy", "provider", k.name, "endpoint", k.endpoint, "keyIDHash", keyIDHash(k.state.Load().keyID))
	}
}

// status asks the plugin for its status, and for a new seed when its key
// id changed (or there is none yet); otherwise it extends the current
// seed's write deadline.
func (k *kmsV2) status(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	deadline := time.Now().Add(kmsWriteTTL)
	resp, err := k.client.Status(cctx, &kmsapi.StatusRequest{})
	if err != nil {
		return fmt.Errorf("kms provider %q: the plugin at %s does not answer its status: %w", k.name, k.endpoint, err)
	}
	var errs []error
	if resp.Healthz != "ok" {
		errs = append(errs, fmt.Errorf("healthz %q, want ok", resp.Healthz))
	}
	if resp.Version != "v2" && resp.Version != "v2beta1" {
		errs = append(errs, fmt.Errorf("API version %q, want v2", resp.Version))
	}
	if err := validateKeyID(resp.KeyId); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("kms provider %q: the plugin at %s is not healthy: %w", k.name, k.endpoint, errors.Join(errs...))
	}
	cur := k.state.Load()
	if cur != nil && cur.keyID == resp.KeyId {
		next := *cur
		next.expires = deadline
		k.state.Store(&next)
		return nil
	}
	seed := make([]byte, seedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	k.calls.Add(1)
	er, err := k.client.Encrypt(cctx, &kmsapi.EncryptRequest{Plaintext: seed, Uid: string(uuid.NewUUID())})
	if err != nil {
		return fmt.Errorf("kms provider %q: the plugin at %s does not encrypt a new seed: %w", k.name, k.endpoint, err)
	}
	if er.KeyId != resp.KeyId {
		return fmt.Errorf("kms provider %q: the plugin encrypted with key id hash %s, but its status says %s", k.name, keyIDHash(er.KeyId), keyIDHash(resp.KeyId))
	}
	if err := validateDEKSource(er.Ciphertext); err != nil {
		return fmt.Errorf("kms provider %q: %w", k.name, err)
	}
	if err := validateAnnotations(er.Annotations); err != nil {
		return fmt.Errorf("kms provider %q: %w", k.name, err)
	}
	st := &kmsState{seed: seed, keyID: er.KeyId, encryptedSeed: er.Ciphertext, annotations: er.Annotations, expires: deadline}
	k.mu.Lock()
	k.seeds[seedCacheKey(dekSourceHKDFSeed, st.keyID, st.encryptedSeed, st.annotations)] = seed
	onRotate := k.onRotate
	k.mu.Unlock()
	k.state.Store(st)
	k.log.Info("KMS data key seed made: writes use it", "provider", k.name, "keyIDHash", keyIDHash(st.keyID), "previousKeyIDHash", keyIDHash(keyIDOf(cur)))
	if cur != nil && onRotate != nil {
		onRotate()
	}
	return nil
}

func keyIDOf(st *kmsState) string {
	if st == nil {
		return ""
	}
	return st.keyID
}

// keyIDHash names a key id in logs and status without revealing it, as
// kube-apiserver's metrics do.
func keyIDHash(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

func (k *kmsV2) Seal(_ context.Context, plain, key []byte) ([]byte, error) {
	st := k.state.Load()
	if st == nil {
		return nil, fmt.Errorf("kms provider %q has no data key: its plugin at %s has not answered since the server started", k.name, k.endpoint)
	}
	if time.Now().After(st.expires) {
		return nil, fmt.Errorf("kms provider %q: its plugin at %s has not answered since %s; writes wait for it", k.name, k.endpoint, st.expires.Add(-kmsWriteTTL).Format(time.RFC3339))
	}
	data, err := sealWithSeed(st.seed, plain, key)
	if err != nil {
		return nil, err
	}
	return encryptedObject{data: data, keyID: st.keyID, encryptedDEK: st.encryptedSeed, annotations: st.annotations, dekSourceType: dekSourceHKDFSeed}.marshal(), nil
}

func (k *kmsV2) Open(ctx context.Context, sealed, key []byte) ([]byte, bool, error) {
	obj, err := unmarshalEncryptedObject(sealed)
	if err != nil {
		return nil, false, fmt.Errorf("kms provider %q: %w", k.name, err)
	}
	seed, err := k.seed(ctx, obj)
	if err != nil {
		return nil, false, err
	}
	var plain []byte
	if obj.dekSourceType == dekSourceHKDFSeed {
		plain, err = openWithSeed(seed, obj.data, key)
	} else {
		var g *aesGCM
		if g, err = newAESGCM(seed); err == nil {
			plain, _, err = g.Open(ctx, obj.data, key)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("kms provider %q: %w", k.name, err)
	}
	return plain, !k.current(obj), nil
}

// current reports whether obj was sealed with the seed writes use now.
func (k *kmsV2) current(obj encryptedObject) bool {
	st := k.state.Load()
	return st != nil && obj.keyID == st.keyID && obj.dekSourceType == dekSourceHKDFSeed
}

// currentValue is current for a stored value, without decrypting it.
func (k *kmsV2) currentValue(sealed []byte) bool {
	obj, err := unmarshalEncryptedObject(sealed)
	return err == nil && k.current(obj)
}

// seed is the plaintext of obj's data key source: kept from an earlier
// read or write, or asked of the plugin once.
func (k *kmsV2) seed(ctx context.Context, obj encryptedObject) ([]byte, error) {
	ck := seedCacheKey(obj.dekSourceType, obj.keyID, obj.encryptedDEK, obj.annotations)
	k.mu.Lock()
	seed := k.seeds[ck]
	k.mu.Unlock()
	if seed != nil {
		return seed, nil
	}
	cctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	k.calls.Add(1)
	resp, err := k.client.Decrypt(cctx, &kmsapi.DecryptRequest{Ciphertext: obj.encryptedDEK, Uid: string(uuid.NewUUID()), KeyId: obj.keyID, Annotations: obj.annotations})
	if err != nil {
		return nil, fmt.Errorf("kms provider %q: the plugin at %s does not decrypt the data key of key id hash %s: %w", k.name, k.endpoint, keyIDHash(obj.keyID), err)
	}
	want := seedSize
	if obj.dekSourceType == dekSourceAESGCMKey {
		want = len(resp.Plaintext) // a DEK of 16, 24 or 32 bytes
	}
	if len(resp.Plaintext) != want || len(resp.Plaintext) < 16 {
		return nil, fmt.Errorf("kms provider %q: the plugin gave a data key of %d bytes", k.name, len(resp.Plaintext))
	}
	k.mu.Lock()
	k.seeds[ck] = resp.Plaintext
	k.mu.Unlock()
	return resp.Plaintext, nil
}

func seedCacheKey(typ uint64, keyID string, encryptedDEK []byte, annotations map[string][]byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d:%s\x00%d:", typ, len(keyID), keyID, len(encryptedDEK))
	h.Write(encryptedDEK)
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		fmt.Fprintf(h, "\x00%d:%s%d:", len(k), k, len(annotations[k]))
		h.Write(annotations[k])
	}
	return string(h.Sum(nil))
}

// sealWithSeed is kube-apiserver's HKDF_SHA256_XNONCE_AES_GCM_SEED
// layout: 32 random bytes of KDF info, then AES-256-GCM under the key
// HKDF-Expand(SHA-256, seed, info) with a random nonce and key as
// additional data.
func sealWithSeed(seed, plain, key []byte) ([]byte, error) {
	info := make([]byte, seedSize)
	if _, err := rand.Read(info); err != nil {
		return nil, err
	}
	g, err := derivedGCM(seed, info)
	if err != nil {
		return nil, err
	}
	sealed, err := g.Seal(context.Background(), plain, key)
	if err != nil {
		return nil, err
	}
	return append(info, sealed...), nil
}

func openWithSeed(seed, data, key []byte) ([]byte, error) {
	if len(data) < seedSize {
		return nil, errors.New("the value is shorter than its KDF info")
	}
	g, err := derivedGCM(seed, data[:seedSize])
	if err != nil {
		return nil, err
	}
	plain, _, err := g.Open(context.Background(), data[seedSize:], key)
	return plain, err
}

func derivedGCM(seed, info []byte) (*aesGCM, error) {
	dk, err := hkdf.Expand(sha256.New, seed, string(info), seedSize)
	if err != nil {
		return nil, err
	}
	return newAESGCM(dk)
}

func (o encryptedObject) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, encryptedObjectData, protowire.BytesType)
	b = protowire.AppendBytes(b, o.data)
	b = protowire.AppendTag(b, encryptedObjectKey, protowire.BytesType)
	b = protowire.AppendString(b, o.keyID)
	b = protowire.AppendTag(b, encryptedObjectDEK, protowire.BytesType)
	b = protowire.AppendBytes(b, o.encryptedDEK)
	// Map entries in key order, as Go's protobuf encodes them
	// deterministically; any order decodes the same.
	for _, k := range slices.Sorted(maps.Keys(o.annotations)) {
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendBytes(e, o.annotations[k])
		b = protowire.AppendTag(b, encryptedObjectAnn, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	if o.dekSourceType != 0 {
		b = protowire.AppendTag(b, encryptedObjectType, protowire.VarintType)
		b = protowire.AppendVarint(b, o.dekSourceType)
	}
	return b
}

var errEncryptedObject = errors.New("the value is not a KMS v2 EncryptedObject")

func unmarshalEncryptedObject(b []byte) (encryptedObject, error) {
	var o encryptedObject
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return o, errEncryptedObject
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && num >= encryptedObjectData && num <= encryptedObjectAnn:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return o, errEncryptedObject
			}
			b = b[n:]
			switch num {
			case encryptedObjectData:
				o.data = v
			case encryptedObjectKey:
				o.keyID = string(v)
			case encryptedObjectDEK:
				o.encryptedDEK = v
			case encryptedObjectAnn:
				k, val, err := mapEntry(v)
				if err != nil {
					return o, err
				}
				if o.annotations == nil {
					o.annotations = map[string][]byte{}
				}
				o.annotations[k] = val
			}
		case typ == protowire.VarintType && num == encryptedObjectType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return o, errEncryptedObject
			}
			b = b[n:]
			o.dekSourceType = v
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return o, errEncryptedObject
			}
			b = b[n:]
		}
	}
	return o, o.validate()
}

func mapEntry(b []byte) (string, []byte, error) {
	var k string
	var v []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return "", nil, errEncryptedObject
		}
		b = b[n:]
		f, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", nil, errEncryptedObject
		}
		b = b[n:]
		switch num {
		case 1:
			k = string(f)
		case 2:
			v = f
		}
	}
	return k, v, nil
}

// validate applies kube-apiserver's checks of an EncryptedObject.
func (o encryptedObject) validate() error {
	if o.dekSourceType != dekSourceAESGCMKey && o.dekSourceType != dekSourceHKDFSeed {
		return fmt.Errorf("unknown encryptedDEKSourceType: %d", o.dekSourceType)
	}
	if len(o.data) == 0 {
		return errors.New("encrypted data is empty")
	}
	if err := validateDEKSource(o.encryptedDEK); err != nil {
		return err
	}
	if err := validateKeyID(o.keyID); err != nil {
		return err
	}
	return validateAnnotations(o.annotations)
}

func validateKeyID(id string) error {
	switch {
	case id == "":
		return errors.New("the key id is empty")
	case len(id) > kmsKeyIDMaxSize:
		return fmt.Errorf("the key id is %d bytes, more than %d", len(id), kmsKeyIDMaxSize)
	}
	return nil
}

func validateDEKSource(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("the encrypted DEK source is empty")
	case len(b) > kmsDEKSourceMaxSize:
		return fmt.Errorf("the encrypted DEK source is %d bytes, more than %d", len(b), kmsDEKSourceMaxSize)
	}
	return nil
}

func validateAnnotations(a map[string][]byte) error {
	total := 0
	for k, v := range a {
		if len(validation.IsFullyQualifiedDomainName(field.NewPath("annotations"), k)) > 0 {
			return fmt.Errorf("annotation key %q is not a fully qualified domain name", k)
		}
		total += len(k) + len(v)
	}
	if total > kmsAnnotationsMax {
		return fmt.Errorf("the annotations are %d bytes, more than %d", total, kmsAnnotationsMax)
	}
	return nil
}
