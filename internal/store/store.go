// Package store keeps the objects the catalog describes in a storage.KV:
// reads, lists, watches and the codec, and the Writer, through which every
// write passes. The Writer runs one loop for every change (read the
// current object, apply the request, admit, validate, write conditionally
// on the revision read, retry from the read on conflict), so admission
// and validation always see the object that is written.
package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/encryption"
	"github.com/sekisho/sekisho/internal/storage"
)

// Store keeps objects of every resource in a storage.KV.
type Store struct {
	KV  storage.KV
	Now func() time.Time
	// OnStale, when set, is told of each value read that was sealed by
	// other than the current writer, so that it can be rewritten. It must
	// not block.
	OnStale func(r *catalog.Resource, key string)
	// OnSealed, when set, is told of each value sealed for storage (its
	// prefix names the key), so that keys can be rotated by use.
	OnSealed func(value []byte)

	// encryption seals and opens stored values, by resource
	// (--encryption-provider-config); nil stores every value as it is,
	// and refuses to read one that is sealed.
	encryption atomic.Pointer[encryption.Config]

	events eventEntries
	lists  listCaches
	hubs   watchHubs
}

// NewStore returns a Store over kv with identity encryption.
func NewStore(kv storage.KV) *Store {
	return &Store{KV: kv, Now: time.Now}
}

const keyRoot = "/registry/"

// kubePrefixes are the resources kube-apiserver keeps under another path
// than their name: its SpecialDefaultResourcePrefixes, and the
// aggregator's group-qualified path for APIServices. Keeping them there
// too lets sekisho and kube-apiserver read one etcd.
var kubePrefixes = map[schema.GroupResource]string{
	{Resource: "replicationcontrollers"}:                       "controllers",
	{Resource: "endpoints"}:                                    "services/endpoints",
	{Resource: "nodes"}:                                        "minions",
	{Resource: "services"}:                                     "services/specs",
	{Group: "networking.k8s.io", Resource: "ingresses"}:        "ingress",
	{Group: "apiregistration.k8s.io", Resource: "apiservices"}: "apiregistration.k8s.io/apiservices",
}

// path is where a resource's objects are kept under /registry/.
func path(r *catalog.Resource) string {
	if p, ok := kubePrefixes[r.GroupResource()]; ok {
		return p
	}
	return r.Name
}

// Key is the storage key of an object, kube-apiserver's.
func Key(r *catalog.Resource, namespace, name string) string {
	if r.Namespaced {
		return keyRoot + path(r) + "/" + namespace + "/" + name
	}
	return keyRoot + path(r) + "/" + name
}

// Prefix is the storage prefix of a resource, within a namespace if given.
func Prefix(r *catalog.Resource, namespace string) string {
	if r.Namespaced && namespace != "" {
		return keyRoot + path(r) + "/" + namespace + "/"
	}
	return keyRoot + path(r) + "/"
}

// Entry is a stored object: its stored bytes (JSON without a
// resourceVersion), its revision, and what is derived from them on demand
// and then kept: the decoded object, the served JSON, the labels and
// fields selectors read, and encodings the server asks to keep. An Entry
// of a watch event is shared by every watcher of it, so all of that is
// safe for concurrent use, and the decoded object must not be changed.
type Entry struct {
	plain []byte
	Rev   int64
	res   *catalog.Resource

	mu      sync.Mutex
	obj     catalog.Object
	json    []byte
	labels  labels.Set
	fields  fields.Set
	encoded map[string][]byte
}

func newEntry(r *catalog.Resource, plain []byte, rev int64) *Entry {
	return &Entry{plain: plain, Rev: rev, res: r}
}

// EntryOf makes an entry of an object that is not stored, such as a
// computed resource's: it is served as it is, with no resourceVersion.
// obj must carry its apiVersion and kind, and is not to be changed after.
func EntryOf(r *catalog.Resource, obj catalog.Object) (*Entry, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return &Entry{plain: data, res: r, obj: obj, json: data}, nil
}

// JSON returns the object as served, with its resourceVersion.
func (e *Entry) JSON() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.json == nil {
		e.json = e.servedJSONLocked()
	}
	return e.json
}

// servedJSONLocked is the JSON of the entry: the stored JSON with the
// revision spliced in, or, for an object stored as protobuf, its decoded
// object (which it shares with every other reader of the entry) encoded.
// Bytes that do not decode are passed on as they are.
func (e *Entry) servedJSONLocked() []byte {
	if !isProtobuf(e.plain) {
		return withResourceVersion(e.res, e.plain, e.Rev)
	}
	obj, err := e.objectLocked()
	if err != nil {
		return e.plain
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return e.plain
	}
	return out
}

// itemHead is how an object begins as an item of a list: kube-apiserver's
// lists do not repeat their items' kind and apiVersion.
var itemHead = []byte(`{"metadata":{`)

// WriteItemJSON writes the object as an item of a list: as served, but
// without its kind and apiVersion.
func (e *Entry) WriteItemJSON(w io.Writer) error {
	prefix := e.res.JSONPrefix()
	e.mu.Lock()
	served := e.json
	e.mu.Unlock()
	if served == nil && (e.res.StoredAs != nil || !bytes.HasPrefix(e.plain, prefix)) {
		served = e.JSON()
	}
	if served != nil {
		if !bytes.HasPrefix(served, prefix) {
			_, err := w.Write(served)
			return err
		}
		if _, err := w.Write(itemHead); err != nil {
			return err
		}
		_, err := w.Write(served[len(prefix):])
		return err
	}
	return writeSplicedAs(e.res, w, e.plain, e.Rev, itemHead)
}

// Object decodes the entry, once. The object is shared: copy it before
// changing it.
func (e *Entry) Object() (catalog.Object, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.objectLocked()
}

func (e *Entry) objectLocked() (catalog.Object, error) {
	if e.obj != nil {
		return e.obj, nil
	}
	obj, err := decode(e.res, e.plain, e.Rev)
	if err != nil {
		return nil, err
	}
	e.obj = obj
	return obj, nil
}

// Encoded returns the entry encoded by encode, computed once per name
// (a watch event's protobuf is built once for all its watchers).
func (e *Entry) Encoded(name string, encode func(catalog.Object) ([]byte, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.encoded[name]; ok {
		return b, nil
	}
	obj, err := e.objectLocked()
	if err != nil {
		return nil, err
	}
	b, err := encode(obj)
	if err != nil {
		return nil, err
	}
	if e.encoded == nil {
		e.encoded = map[string][]byte{}
	}
	e.encoded[name] = b
	return b, nil
}

// labelSet is the entry's labels, read once, without decoding the whole
// object when nothing else has.
func (e *Entry) labelSet() (labels.Set, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.labels != nil {
		return e.labels, nil
	}
	if e.obj != nil || isProtobuf(e.plain) {
		obj, err := e.objectLocked()
		if err != nil {
			return nil, err
		}
		e.labels = labels.Set(obj.GetLabels())
	} else {
		var m metadataOnly
		if err := json.Unmarshal(e.plain, &m); err != nil {
			return nil, err
		}
		e.labels = labels.Set(m.Metadata.Labels)
	}
	if e.labels == nil {
		e.labels = labels.Set{}
	}
	return e.labels, nil
}

// fieldSet is the entry's selectable fields, computed once.
func (e *Entry) fieldSet() (fields.Set, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fields != nil {
		return e.fields, nil
	}
	obj, err := e.objectLocked()
	if err != nil {
		return nil, err
	}
	e.fields = FieldSet(e.res, obj)
	return e.fields, nil
}

// SetEncryption makes c the encryption configuration from the next
// read or write on; nil stores values as they are.
func (s *Store) SetEncryption(c *encryption.Config) { s.encryption.Store(c) }

// Encryption is the encryption configuration in force.
func (s *Store) Encryption() *encryption.Config { return s.encryption.Load() }

func (s *Store) open(ctx context.Context, r *catalog.Resource, key string, value []byte) ([]byte, error) {
	plain, stale, err := s.Encryption().For(r.GroupResource()).Open(ctx, value, []byte(key))
	if err != nil {
		return nil, corrupt(r, key, err)
	}
	if stale && s.OnStale != nil {
		s.OnStale(r, key)
	}
	return plain, nil
}

// entry is the Entry of a stored item. Entries are shared by revision
// with watch events and other reads (see eventEntries): an object read
// again at the revision a watch or an earlier read already decoded is
// not decrypted and decoded again. That is most reads in a busy cluster,
// where a write loop reads what the last write stored.
func (s *Store) entry(ctx context.Context, r *catalog.Resource, it *storage.Item) (*Entry, error) {
	return s.events.entry(eventKey{res: r, key: it.Key, rev: it.ModRev}, func() (*Entry, error) {
		plain, err := s.open(ctx, r, it.Key, it.Value)
		if err != nil {
			return nil, err
		}
		return newEntry(r, plain, it.ModRev), nil
	})
}

// written shares the entry of an object just stored at rev, as the watch
// event of that write and the next read of it will see it. The shared
// entry is decoded from the stored bytes when first needed, not taken
// from the written object, whose in-memory form may hold more than its
// encoding (times below a second).
func (s *Store) written(r *catalog.Resource, key string, plain []byte, rev int64) {
	_, _ = s.events.entry(eventKey{res: r, key: key, rev: rev}, func() (*Entry, error) {
		return newEntry(r, plain, rev), nil
	})
}

func notFound(r *catalog.Resource, name string) error {
	return apierrors.NewNotFound(r.GroupResource(), name)
}

// Get returns the current object. The entry may be shared with other
// readers: its object must not be changed.
func (s *Store) Get(ctx context.Context, r *catalog.Resource, namespace, name string) (*Entry, error) {
	if err := ctx.Err(); err != nil { // the request's deadline has passed
		return nil, err
	}
	if e, ok, err := s.cachedGet(ctx, r, namespace, name); ok || err != nil {
		return e, err
	}
	it, err := s.KV.Get(ctx, Key(r, namespace, name))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound(r, name)
	}
	if err != nil {
		return nil, err
	}
	return s.entry(ctx, r, it)
}

// GetObject returns the current object decoded. It may be shared with
// other readers: copy it before changing it.
func (s *Store) GetObject(ctx context.Context, r *catalog.Resource, namespace, name string) (catalog.Object, error) {
	e, err := s.Get(ctx, r, namespace, name)
	if err != nil {
		return nil, err
	}
	return e.Object()
}

// GenerateName gives obj a name from its generateName prefix when it has
// none, and reports whether it did. Names are generated before validation,
// so that the generated name is what gets validated.
func GenerateName(obj catalog.Object) bool {
	if obj.GetName() != "" || obj.GetGenerateName() == "" {
		return false
	}
	obj.SetName(obj.GetGenerateName() + rand.String(5))
	return true
}

// ListObjects lists the decoded objects of r in namespace ("" for all)
// whose labels match selector ("" for all).
func (s *Store) ListObjects(ctx context.Context, r *catalog.Resource, namespace, selector string) ([]catalog.Object, error) {
	o := ListOptions{Namespace: namespace}
	if selector != "" {
		sel, err := labels.Parse(selector)
		if err != nil {
			return nil, err
		}
		o.Labels = sel
	}
	res, err := s.List(ctx, r, o)
	if err != nil {
		return nil, err
	}
	out := make([]catalog.Object, 0, len(res.Items))
	for _, e := range res.Items {
		obj, err := e.Object()
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// seal turns the JSON of the object at key into what is stored: the
// JSON through the encryption transformer. The transformer is the one
// place stored bytes are encrypted; dry runs never reach it.
func (s *Store) seal(ctx context.Context, r *catalog.Resource, key string, plain []byte) ([]byte, error) {
	value, err := s.Encryption().For(r.GroupResource()).Seal(ctx, plain, []byte(key))
	if err == nil && s.OnSealed != nil {
		s.OnSealed(value)
	}
	return value, err
}

// fillSystemFields gives a new object its uid and creationTimestamp, once.
func (s *Store) fillSystemFields(obj catalog.Object) {
	if obj.GetUID() == "" {
		obj.SetUID(types.UID(uuid.NewUUID()))
	}
	if ts := obj.GetCreationTimestamp(); ts.IsZero() {
		obj.SetCreationTimestamp(metav1.NewTime(s.Now().Truncate(time.Second)))
	}
}

// create stores a new object. It assigns uid and creationTimestamp
// unless the Writer did. When
// generated is true the name came from GenerateName, and a collision is
// retried with a new name, as kube-apiserver does. The Writer has
// prepared, admitted and validated the object.
func (s *Store) create(ctx context.Context, r *catalog.Resource, obj catalog.Object, generated, dryRun bool, charges []charge) (*Entry, error) {
	s.fillSystemFields(obj)
	obj.SetResourceVersion("")
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	obj.SetGeneration(0)
	if r.TracksGeneration {
		obj.SetGeneration(1)
	}
	for attempt := 0; ; attempt++ {
		if generated && attempt > 0 {
			obj.SetName(obj.GetGenerateName() + rand.String(5))
		}
		key := Key(r, obj.GetNamespace(), obj.GetName())
		plain, err := encode(r, obj)
		if err != nil {
			return nil, err
		}
		var rev int64
		if dryRun {
			if _, err = s.KV.Get(ctx, key); err == nil {
				err = storage.ErrExists
			} else if errors.Is(err, storage.ErrNotFound) {
				rev, err = s.KV.Rev(ctx)
			}
		} else {
			var sealed []byte
			if sealed, err = s.seal(ctx, r, key, plain); err == nil {
				rev, err = s.write(ctx, r, storage.Op{Type: storage.OpCreate, Key: key, Value: sealed}, plain, charges)
			}
		}
		if errors.Is(err, storage.ErrExists) {
			if generated && attempt < 8 {
				continue
			}
			return nil, apierrors.NewAlreadyExists(r.GroupResource(), obj.GetName())
		}
		if err != nil {
			return nil, err
		}
		if dryRun {
			return newEntry(r, plain, rev), nil
		}
		obj.SetResourceVersion(strconv.FormatInt(rev, 10))
		return &Entry{plain: plain, Rev: rev, res: r, obj: obj}, nil
	}
}

// read is one read of a stored object: its storage item, its entry and
// its decoded form.
type read struct {
	item  *storage.Item
	entry *Entry
	obj   catalog.Object
	// recharges counts the passes of the write loop whose charges went
	// stale (errRecharge).
	recharges int
}

func (s *Store) read(ctx context.Context, r *catalog.Resource, key, name string) (*read, error) {
	it, err := s.KV.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, notFound(r, name)
	}
	if err != nil {
		return nil, err
	}
	e, err := s.entry(ctx, r, it)
	if err != nil {
		return nil, err
	}
	obj, err := e.Object()
	if err != nil {
		return nil, err
	}
	return &read{item: it, entry: e, obj: obj}, nil
}

// change is what one pass of the write loop decided to do with the
// object it read: store next in its place, or remove it (next, when set,
// is its last state). A nil change leaves the object as it is.
type change struct {
	next   catalog.Object
	remove bool
	// charges are written with the change; see admission.Charge.
	charges []charge
}

// maxAttempts bounds how often one write starts again because another
// writer got in first.
const maxAttempts = 16

// maxRecharges bounds how often a write is charged again because an
// object it charges (a quota) changed between its read and the write.
// Each time, some other write was charged to it and went in: under a
// hundred concurrent creates in one namespace, a create may have to wait
// for most of the others. A client must not see the bookkeeping of a
// quota as a conflict, so the bound is far above any real contention.
const maxRecharges = 10000

// errRecharge says an object charged with a write changed meanwhile: the
// write was not made, and is charged again against the object as it now
// is.
var errRecharge = errors.New("store: an object charged with the write changed; charging again")

// charge is an admission.Charge with its resource resolved: an object
// written with the write, conditionally on its resourceVersion; or, when
// obj is nil, an admission.ChargeBasis: the objects of res in namespace,
// none of which may be newer than since (storage.OpUnchangedSince).
type charge struct {
	res *catalog.Resource
	obj catalog.Object

	namespace string
	since     int64
}

// write makes one write of r, in one transaction with the objects it is
// charged to, each conditionally on the resourceVersion it was read at.
// plain is op's value before sealing (nil for a delete); each value
// written is shared as the entry of its revision (see written).
func (s *Store) write(ctx context.Context, r *catalog.Resource, op storage.Op, plain []byte, charges []charge) (int64, error) {
	if plain != nil {
		s.events.pend(op.Key, op.Value, plain)
		defer s.events.unpend(op.Key, op.Value)
	}
	rev, err := s.writeOps(ctx, op, charges)
	if err == nil && plain != nil {
		s.written(r, op.Key, plain, rev)
	}
	return rev, err
}

// writeOps makes the write of op and its charges.
func (s *Store) writeOps(ctx context.Context, op storage.Op, charges []charge) (int64, error) {
	// A request past its deadline writes nothing: its client has been
	// told it timed out. (bbolt does not look at the context.)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(charges) == 0 {
		switch op.Type {
		case storage.OpCreate:
			return s.KV.Create(ctx, op.Key, op.Value)
		case storage.OpUpdate:
			return s.KV.Update(ctx, op.Key, op.Value, op.IfRev)
		}
	}
	ops := []storage.Op{op}
	plains := make([][]byte, len(charges))
	for i, c := range charges {
		if c.obj == nil {
			ops = append(ops, storage.Op{Type: storage.OpUnchangedSince, Key: Prefix(c.res, c.namespace), IfRev: c.since})
			continue
		}
		ifRev, err := strconv.ParseInt(c.obj.GetResourceVersion(), 10, 64)
		if err != nil || ifRev <= 0 {
			return 0, fmt.Errorf("store: a charged %s has no resourceVersion", c.res.Kind)
		}
		key := Key(c.res, c.obj.GetNamespace(), c.obj.GetName())
		if plains[i], err = encode(c.res, c.obj); err != nil {
			return 0, err
		}
		sealed, err := s.seal(ctx, c.res, key, plains[i])
		if err != nil {
			return 0, err
		}
		s.events.pend(key, sealed, plains[i])
		defer s.events.unpend(key, sealed)
		ops = append(ops, storage.Op{Type: storage.OpUpdate, Key: key, Value: sealed, IfRev: ifRev})
	}
	rev, err := s.KV.Txn(ctx, ops)
	var te *storage.TxnError
	switch {
	case errors.As(err, &te) && te.Index == 0:
		return 0, te.Err
	case errors.As(err, &te):
		return 0, errRecharge
	case err != nil:
		return 0, err
	}
	for i, c := range charges {
		if c.obj == nil {
			continue
		}
		c.obj.SetResourceVersion(strconv.FormatInt(rev, 10))
		s.written(c.res, ops[i+1].Key, plains[i], rev)
	}
	return rev, nil
}

// guaranteedUpdate is the write loop every update and delete runs, in the
// spirit of k8s.io/apiserver's GuaranteedUpdate: read the current object,
// decide what to do with it (the Writer applies the request, admits and
// validates it there, against exactly that object), and write
// conditionally on the revision read. When another writer got in first,
// start again from the read. An update that changes nothing is not
// written. The returned Entry is the object as it now is, or as it was
// when deleted is true.
func (s *Store) guaranteedUpdate(ctx context.Context, r *catalog.Resource, namespace, name string, dryRun bool,
	decide func(cur *read) (*change, error)) (e *Entry, deleted bool, err error) {
	key := Key(r, namespace, name)
	recharges := 0
	for attempt := 1; ; attempt++ {
		cur, err := s.read(ctx, r, key, name)
		if err != nil {
			return nil, false, err
		}
		cur.recharges = recharges
		c, err := decide(cur)
		if err != nil {
			return nil, false, err
		}
		switch {
		case c == nil:
			return cur.entry, false, nil
		case c.remove:
			e, err = s.remove(ctx, r, cur, c.next, dryRun, c.charges)
		default:
			e, err = s.replace(ctx, r, cur, c.next, dryRun, c.charges)
		}
		if errors.Is(err, storage.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if errors.Is(err, errRecharge) && recharges < maxRecharges {
			recharges++
			attempt--
			continue
		}
		if err != nil {
			return nil, false, storageError(r, name, err)
		}
		return e, c.remove, nil
	}
}

// replace stores next in place of cur, if it differs.
func (s *Store) replace(ctx context.Context, r *catalog.Resource, cur *read, next catalog.Object, dryRun bool, charges []charge) (*Entry, error) {
	plain, err := encode(r, next)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(plain, cur.entry.plain) {
		return cur.entry, nil
	}
	if dryRun {
		return newEntry(r, plain, cur.item.ModRev), nil
	}
	sealed, err := s.seal(ctx, r, cur.item.Key, plain)
	if err != nil {
		return nil, err
	}
	rev, err := s.write(ctx, r, storage.Op{Type: storage.OpUpdate, Key: cur.item.Key, Value: sealed, IfRev: cur.item.ModRev}, plain, charges)
	if err != nil {
		return nil, err
	}
	next.SetResourceVersion(strconv.FormatInt(rev, 10))
	return &Entry{plain: plain, Rev: rev, res: r, obj: next}, nil
}

// remove deletes cur, and returns its last state: as stored, or last when
// the storage does not return it.
func (s *Store) remove(ctx context.Context, r *catalog.Resource, cur *read, last catalog.Object, dryRun bool, charges []charge) (*Entry, error) {
	if dryRun {
		return cur.entry, nil
	}
	var prev *storage.Item
	var rev int64
	var err error
	if len(charges) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err // past its deadline, as in write
		}
		prev, rev, err = s.KV.Delete(ctx, cur.item.Key, cur.item.ModRev)
	} else {
		rev, err = s.write(ctx, r, storage.Op{Type: storage.OpDelete, Key: cur.item.Key, IfRev: cur.item.ModRev}, nil, charges)
	}
	if err != nil {
		return nil, err
	}
	if prev == nil {
		if last == nil {
			last = cur.obj
		}
		value, err := encode(r, last)
		if err != nil {
			return nil, err
		}
		return newEntry(r, value, rev), nil
	}
	plain, err := s.open(ctx, r, prev.Key, prev.Value)
	if err != nil {
		return nil, err
	}
	return newEntry(r, plain, rev), nil
}

// ErrConflict is the message Kubernetes gives for a stale resourceVersion.
func ErrConflict(r *catalog.Resource, name string) error {
	return apierrors.NewConflict(r.GroupResource(), name,
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

// changesSpec reports whether an update changes more than metadata and
// status, which is what bumps metadata.generation. Like kube-apiserver's
// strategies it compares with semantic equality (nil and empty are the
// same, quantities by value), field by field, without encoding.
func changesSpec(old, next catalog.Object) bool {
	a, b := reflect.ValueOf(old), reflect.ValueOf(next)
	if a.Kind() != reflect.Pointer || b.Type() != a.Type() || a.Elem().Kind() != reflect.Struct {
		return !equality.Semantic.DeepEqual(old, next)
	}
	a, b = a.Elem(), b.Elem()
	t := a.Type()
	for i := range t.NumField() {
		switch t.Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !equality.Semantic.DeepEqual(a.Field(i).Addr().Interface(), b.Field(i).Addr().Interface()) {
			return true
		}
	}
	return false
}

func storageError(r *catalog.Resource, name string, err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return notFound(r, name)
	case errors.Is(err, storage.ErrConflict):
		return ErrConflict(r, name)
	}
	return err
}

// holdsDeletion reports whether a resource-specific finalizer (a
// namespace's spec.finalizers) still holds an object that is being deleted.
func holdsDeletion(r *catalog.Resource, obj catalog.Object) bool {
	return r.DeletionHold != nil && r.DeletionHold(obj)
}

// Preconditions guard a delete: the object deleted must still have this
// UID and resourceVersion, when given.
type Preconditions struct {
	UID             string
	ResourceVersion string
}

// Check refuses obj with a 409 when it is not the object the preconditions
// name.
func (p Preconditions) Check(r *catalog.Resource, obj catalog.Object) error {
	if p.UID != "" && string(obj.GetUID()) != p.UID {
		return apierrors.NewConflict(r.GroupResource(), obj.GetName(),
			fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", p.UID, obj.GetUID()))
	}
	if p.ResourceVersion != "" && obj.GetResourceVersion() != p.ResourceVersion {
		return apierrors.NewConflict(r.GroupResource(), obj.GetName(),
			fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", p.ResourceVersion, obj.GetResourceVersion()))
	}
	return nil
}

func undeletable(r *catalog.Resource, obj catalog.Object) string {
	if r.Undeletable == nil {
		return ""
	}
	return r.Undeletable(obj)
}

// ListOptions select and page a list or watch.
type ListOptions struct {
	// Shared lets the list reuse, and keep, the decoded and encoded forms
	// of objects that watchers share (see eventEntries): the caller
	// promises not to change the objects it reads.
	Shared        bool
	Namespace     string
	Labels        labels.Selector
	Fields        fields.Selector
	Limit         int64
	Continue      string
	Rev           int64 // read at exactly this revision (0: latest)
	MinRev        int64 // the read must not be older than this revision
	SendInitial   bool
	AllowBookmark bool
}

// ListResult is one page of a list.
type ListResult struct {
	Items []*Entry
	// Unreadable are the objects left out because their stored values
	// do not open: a list serves every other object.
	Unreadable []*CorruptError
	Rev        int64
	Continue   string
	Remaining  *int64
}

// continueToken is the opaque token clients pass back for the next page,
// in the shape kube-apiserver uses.
type continueToken struct {
	APIVersion string `json:"v"`
	Rev        int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rev int64, nextKey, prefix string) string {
	data, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", Rev: rev, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(token, prefix string) (int64, string, error) {
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", fmt.Errorf("continue key is not valid: %v", err)
	}
	var t continueToken
	if err := json.Unmarshal(data, &t); err != nil {
		return 0, "", fmt.Errorf("continue key is not valid: %v", err)
	}
	if t.APIVersion != "meta.k8s.io/v1" {
		return 0, "", fmt.Errorf("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if t.Rev <= 0 || strings.Contains(t.Start, "..") || strings.HasPrefix(t.Start, "/") {
		return 0, "", errors.New("continue key is not valid: invalid start key")
	}
	return t.Rev, prefix + t.Start, nil
}

// matches reports whether an entry stored at key passes the selectors.
// Field requirements on metadata.name and metadata.namespace are decided
// from the key first, so an object they leave out is never decoded (a
// kubelet watches its pods' ConfigMaps and Secrets by name).
func (o *ListOptions) matches(r *catalog.Resource, key string, e *Entry) (bool, error) {
	fieldsDecided := true
	if o.Fields != nil && !o.Fields.Empty() {
		ok, all := matchKeyFields(r, key, o.Fields)
		if !ok {
			return false, nil
		}
		fieldsDecided = all
	}
	if o.Labels != nil && !o.Labels.Empty() {
		set, err := e.labelSet()
		if err != nil {
			return false, err
		}
		if !o.Labels.Matches(set) {
			return false, nil
		}
	}
	if !fieldsDecided {
		set, err := e.fieldSet()
		if err != nil {
			return false, err
		}
		if !o.Fields.Matches(set) {
			return false, nil
		}
	}
	return true, nil
}

// matchKeyFields checks sel's requirements on metadata.name and
// metadata.namespace against the object's storage key. ok is false when
// one of them fails; all is true when sel has no other requirement, so
// that the key alone decides.
func matchKeyFields(r *catalog.Resource, key string, sel fields.Selector) (ok, all bool) {
	// Names and namespaces hold no "/". A key of another shape under the
	// resource's prefix (a Service left in an old layout, one level
	// short) is left to the object.
	depth := 0
	if r.Namespaced {
		depth = 1
	}
	rest, found := strings.CutPrefix(key, Prefix(r, ""))
	if !found || strings.Count(rest, "/") != depth {
		return true, false
	}
	namespace, name := "", rest
	if r.Namespaced {
		namespace, name, _ = strings.Cut(rest, "/")
	}
	reqs := sel.Requirements()
	if len(reqs) == 0 { // fields.Nothing(), which is not Empty
		return true, false
	}
	all = true
	for _, req := range reqs {
		var v string
		switch req.Field {
		case "metadata.name":
			v = name
		case "metadata.namespace":
			v = namespace
		default:
			all = false
			continue
		}
		switch req.Operator {
		case selection.Equals, selection.DoubleEquals:
			if v != req.Value {
				return false, true
			}
		case selection.NotEquals:
			if v == req.Value {
				return false, true
			}
		default:
			all = false
		}
	}
	return true, all
}

// FieldSet is the set of fields an object can be selected by.
func FieldSet(r *catalog.Resource, obj catalog.Object) fields.Set {
	set := fields.Set{"metadata.name": obj.GetName(), "metadata.namespace": obj.GetNamespace()}
	if r.SelectableFields != nil {
		for k, v := range r.SelectableFields(obj) {
			set[k] = v
		}
	}
	return set
}

// filtered reports whether any selector is set.
func (o *ListOptions) filtered() bool {
	return (o.Labels != nil && !o.Labels.Empty()) || (o.Fields != nil && !o.Fields.Empty())
}

// List returns one page of objects. A continue token pins later pages to
// the revision of the first.
func (s *Store) List(ctx context.Context, r *catalog.Resource, o ListOptions) (*ListResult, error) {
	if res, ok, err := s.cachedList(ctx, r, o); ok || err != nil {
		return res, err
	}
	return s.listStorage(ctx, r, o)
}

// listStorage is List, read from storage.
func (s *Store) listStorage(ctx context.Context, r *catalog.Resource, o ListOptions) (*ListResult, error) {
	prefix := Prefix(r, o.Namespace)
	kvOpts := storage.ListOptions{Rev: o.Rev}
	if o.Continue != "" {
		rev, start, err := decodeContinue(o.Continue, prefix)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		kvOpts.Rev, kvOpts.Start = rev, start
	}
	if o.MinRev > 0 && kvOpts.Rev == 0 {
		cur, err := s.KV.Rev(ctx)
		if err != nil {
			return nil, err
		}
		if o.MinRev > cur {
			return nil, tooLargeRV(o.MinRev, cur)
		}
	}
	res := &ListResult{}
	// Without selectors one storage page is one API page. With selectors,
	// keep reading until the page is full or the keys run out.
	for {
		if o.Limit > 0 {
			kvOpts.Limit = o.Limit - int64(len(res.Items))
			if o.filtered() {
				kvOpts.Limit = max(kvOpts.Limit, 100)
			}
		}
		if err := ctx.Err(); err != nil { // the request's deadline has passed
			return nil, err
		}
		page, err := s.KV.List(ctx, prefix, kvOpts)
		if err != nil {
			return nil, listError(err, kvOpts.Rev, o.Continue != "")
		}
		res.Rev = page.Rev
		kvOpts.Rev = page.Rev
		for i, it := range page.Items {
			if i%256 == 255 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			var e *Entry
			if o.Shared {
				e, err = s.events.entry(eventKey{res: r, key: it.Key, rev: it.ModRev}, func() (*Entry, error) { return s.entry(ctx, r, it) })
			} else {
				e, err = s.entry(ctx, r, it)
			}
			if ce := (*CorruptError)(nil); errors.As(err, &ce) {
				res.Unreadable = append(res.Unreadable, ce)
				continue
			}
			if err != nil {
				return nil, err
			}
			ok, err := o.matches(r, it.Key, e)
			if err != nil {
				return nil, err
			}
			if ok {
				res.Items = append(res.Items, e)
			}
			if o.Limit > 0 && int64(len(res.Items)) >= o.Limit {
				next := page.Next
				if i+1 < len(page.Items) {
					next = page.Items[i+1].Key
				}
				if next != "" {
					res.Continue = encodeContinue(page.Rev, next, prefix)
					if !o.filtered() {
						rest := page.Remaining + int64(len(page.Items)-i-1)
						res.Remaining = &rest
					}
				}
				return res, nil
			}
		}
		if page.Next == "" {
			return res, nil
		}
		kvOpts.Start = page.Next
	}
}

func tooLargeRV(want, cur int64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, cur), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

func listError(err error, rev int64, continuing bool) error {
	switch {
	case errors.Is(err, storage.ErrCompacted) && continuing:
		return apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
	case errors.Is(err, storage.ErrCompacted):
		return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", rev))
	case errors.Is(err, storage.ErrFutureRevision):
		return tooLargeRV(rev, 0)
	}
	return err
}

// StoredResources are the resources of cat whose objects are stored
// under their own prefix, once each.
func StoredResources(cat *catalog.Catalog) []*catalog.Resource {
	var out []*catalog.Resource
	seen := map[string]bool{}
	for _, r := range cat.Resources() {
		if r.Virtual || r.Computed || r.StoredAs != nil {
			continue
		}
		p := Prefix(r, "")
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, r)
	}
	return out
}
