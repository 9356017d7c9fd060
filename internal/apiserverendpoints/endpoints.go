// Package apiserverendpoints keeps the default/kubernetes Service's
// Endpoints and EndpointSlice listing every live API server, with
// kube-apiserver's lease endpoint reconciler semantics.
//
// Each server writes its address under /registry/masterleases/<ip>, an
// expiring key (an etcd lease of TTL), every Interval, then sets the
// Endpoints to the addresses found there. A server that dies stops
// renewing; its key expires and the next reconcile by any server drops
// it. The keys and their values (a v1 Endpoints naming the address) are
// kube-apiserver's, so sekisho and kube-apiserver on one etcd keep one
// list between them.
//
// On a store whose keys cannot expire (the embedded database, which one
// server owns) the list is this server alone.
package apiserverendpoints

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

// LeasePrefix is where kube-apiserver keeps its endpoint leases.
const LeasePrefix = "/registry/masterleases/"

// Service is the name of the Service, in the default namespace.
const Service = "kubernetes"

// Reconciler keeps this server in the kubernetes Service's endpoints.
type Reconciler struct {
	KV    storage.KV
	Store *store.Writer
	// Endpoints and Slices are the v1 endpoints and
	// discovery.k8s.io/v1 endpointslices resources.
	Endpoints, Slices *catalog.Resource
	// IP is the address this server advertises; Port its secure port.
	IP   string
	Port int32
	// TTL is how long this server's lease lasts unrenewed (15 s) and
	// Interval how often it is renewed (10 s), kube-apiserver's.
	TTL, Interval time.Duration
	Log           *slog.Logger
}

func (r *Reconciler) defaults() {
	if r.TTL == 0 {
		r.TTL = 15 * time.Second
	}
	if r.Interval == 0 {
		r.Interval = 10 * time.Second
	}
}

// Run renews and reconciles every Interval (the first time after one
// Interval: call Reconcile at start) until ctx ends, then removes this
// server from the list, so that clients stop using it at once. ctx
// carries the user the objects are written as.
func (r *Reconciler) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.Remove(stop); err != nil {
				r.Log.Warn("kubernetes service endpoints: cannot remove this server", "err", err)
			}
			return
		case <-t.C:
		}
		if err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.Log.Warn("kubernetes service endpoints: cannot reconcile; retrying", "err", err)
		}
	}
}

// Reconcile renews this server's lease, then sets the endpoints to every
// server whose lease is live.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	r.defaults()
	if err := r.renew(ctx); err != nil {
		return err
	}
	ips, err := r.live(ctx)
	if err != nil {
		return err
	}
	if len(ips) == 0 {
		// This server just renewed: none listed means a broken read, not
		// that no server lives.
		return errors.New("no API server leases listed; the endpoints are left as they are")
	}
	return r.sync(ctx, ips)
}

// Remove deletes this server's lease and reconciles without it.
func (r *Reconciler) Remove(ctx context.Context) error {
	if _, ok := r.KV.(storage.Expiring); !ok {
		return nil // the only server: its endpoints stay for its next start
	}
	if _, _, err := r.KV.Delete(ctx, LeasePrefix+r.IP, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	ips, err := r.live(ctx)
	if err != nil || len(ips) == 0 {
		return err // the last server leaves the list as it was, as kube-apiserver does
	}
	return r.sync(ctx, ips)
}

func (r *Reconciler) renew(ctx context.Context) error {
	kv, ok := r.KV.(storage.Expiring)
	if !ok {
		return nil
	}
	lease := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: r.IP}}}}}
	if it, err := r.KV.Get(ctx, LeasePrefix+r.IP); err == nil {
		if old, err := store.DecodeObject(r.Endpoints, it.Value); err == nil {
			// kube-apiserver bumps the generation on each renewal.
			lease.Generation = old.GetGeneration() + 1
		}
	}
	value, err := store.EncodeObject(r.Endpoints, lease)
	if err != nil {
		return err
	}
	_, err = kv.PutExpiring(ctx, LeasePrefix+r.IP, value, r.TTL)
	return err
}

// live lists the addresses with a lease, sorted.
func (r *Reconciler) live(ctx context.Context) ([]string, error) {
	if _, ok := r.KV.(storage.Expiring); !ok {
		return []string{r.IP}, nil
	}
	list, err := r.KV.List(ctx, LeasePrefix, storage.ListOptions{})
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, it := range list.Items {
		obj, err := store.DecodeObject(r.Endpoints, it.Value)
		if err != nil {
			r.Log.Warn("kubernetes service endpoints: unreadable lease", "key", it.Key, "err", err)
			continue
		}
		ep := obj.(*corev1.Endpoints)
		if len(ep.Subsets) > 0 && len(ep.Subsets[0].Addresses) > 0 && ep.Subsets[0].Addresses[0].IP != "" {
			ips = append(ips, ep.Subsets[0].Addresses[0].IP)
		}
	}
	slices.Sort(ips)
	return slices.Compact(ips), nil
}

func (r *Reconciler) ports() []corev1.EndpointPort {
	return []corev1.EndpointPort{{Name: "https", Port: r.Port, Protocol: corev1.ProtocolTCP}}
}

// sync writes the Endpoints and the EndpointSlice when they differ from
// ips, as kube-apiserver's endpoints adapter does.
func (r *Reconciler) sync(ctx context.Context, ips []string) error {
	want := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: Service, Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []corev1.EndpointSubset{{Ports: r.ports()}},
	}
	for _, ip := range ips {
		want.Subsets[0].Addresses = append(want.Subsets[0].Addresses, corev1.EndpointAddress{IP: ip})
	}
	if err := r.put(ctx, r.Endpoints, want, func(cur catalog.Object) (catalog.Object, bool) {
		ep := cur.(*corev1.Endpoints)
		if equality.Semantic.DeepEqual(ep.Subsets, want.Subsets) && equality.Semantic.DeepEqual(ep.Labels, want.Labels) {
			return nil, false
		}
		ep.Subsets, ep.Labels = want.Subsets, want.Labels
		return ep, true
	}); err != nil {
		return err
	}
	addressType := discoveryv1.AddressTypeIPv4
	if net.ParseIP(ips[0]).To4() == nil {
		addressType = discoveryv1.AddressTypeIPv6
	}
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: Service, Namespace: metav1.NamespaceDefault, Labels: map[string]string{discoveryv1.LabelServiceName: Service}},
		AddressType: addressType,
	}
	for _, ip := range ips {
		if (net.ParseIP(ip).To4() != nil) == (addressType == discoveryv1.AddressTypeIPv4) {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
		}
	}
	for _, p := range r.ports() {
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol})
	}
	return r.put(ctx, r.Slices, slice, func(cur catalog.Object) (catalog.Object, bool) {
		s := cur.(*discoveryv1.EndpointSlice)
		if s.AddressType == slice.AddressType && equality.Semantic.DeepEqual(s.Endpoints, slice.Endpoints) &&
			equality.Semantic.DeepEqual(s.Ports, slice.Ports) && equality.Semantic.DeepEqual(s.Labels, slice.Labels) {
			return nil, false
		}
		s.AddressType, s.Endpoints, s.Ports, s.Labels = slice.AddressType, slice.Endpoints, slice.Ports, slice.Labels
		return s, true
	})
}

var errUnchanged = errors.New("unchanged")

// put creates want, or changes the existing object with change.
func (r *Reconciler) put(ctx context.Context, res *catalog.Resource, want catalog.Object, change func(catalog.Object) (catalog.Object, bool)) error {
	_, err := r.Store.Update(ctx, store.ObjectTarget(res, want.GetNamespace(), want.GetName()), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
		next, changed := change(cur)
		if !changed {
			return nil, errUnchanged
		}
		return next, nil
	})
	if apierrors.IsNotFound(err) {
		_, err = r.Store.Create(ctx, res, want, store.Options{})
		if apierrors.IsAlreadyExists(err) {
			return nil // another server made it; the next pass checks it
		}
	}
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}
