// Package serviceip assigns cluster IPs and node ports to Services and
// takes them back when Services go. Each assignment is a storage key
// created atomically, so two API servers sharing a store never hand out
// the same address.
package serviceip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/storage"
	"github.com/sekisho/sekisho/internal/store"
)

const (
	ipPrefix   = "/registry/serviceips/"
	portPrefix = "/registry/servicenodeports/"
)

// Allocator hands out cluster IPs from a CIDR and node ports from a range.
type Allocator struct {
	KV       storage.KV
	CIDR     *net.IPNet
	PortLow  int
	PortHigh int
	Log      *slog.Logger
	// Grace protects a fresh reservation from repair while its Service is
	// still being created.
	Grace time.Duration
}

// family is the IP family of the service CIDR.
func (a *Allocator) family() corev1.IPFamily {
	if a.CIDR != nil && a.CIDR.IP.To4() == nil {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// owner is stored as the value of a reservation: who holds it, and since when.
func owner(ns, name string, now time.Time) []byte {
	return []byte(ns + "/" + name + "@" + strconv.FormatInt(now.Unix(), 10))
}

func parseOwner(v []byte) (key string, since time.Time) {
	who, at, _ := strings.Cut(string(v), "@")
	n, _ := strconv.ParseInt(at, 10, 64)
	return who, time.Unix(n, 0)
}

// Assign gives a Service what it lacks, as kube-apiserver's service
// storage does on create and update: a cluster IP (and its family fields)
// unless it is headless or an ExternalName, and node ports for NodePort
// and LoadBalancer Services. Addresses and ports the Service names itself
// must be in range and free; those old (the stored Service, nil on create)
// already held stay its own. A dry run reserves nothing.
func (a *Allocator) Assign(ctx context.Context, svc, old *corev1.Service, dry bool) error {
	spec := field.NewPath("spec")
	invalid := func(errs ...*field.Error) error {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, errs)
	}
	// The cluster is single-stack: a Service that requires both
	// families cannot have them; one that prefers them keeps its policy.
	if p := svc.Spec.IPFamilyPolicy; p != nil && *p == corev1.IPFamilyPolicyRequireDualStack && svc.Spec.Type != corev1.ServiceTypeExternalName {
		return invalid(field.Invalid(spec.Child("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
	}
	singleUnlessSet := func() {
		if svc.Spec.IPFamilyPolicy == nil {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicySingleStack)
		}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone && len(svc.Spec.Selector) > 0 && len(svc.Spec.IPFamilies) == 0 {
		// A headless Service with a selector gets the cluster's family:
		// its endpoints are pod addresses of that family.
		svc.Spec.IPFamilies = []corev1.IPFamily{a.family()}
		singleUnlessSet()
	}
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if svc.Spec.ClusterIP == "" {
			ip, err := a.allocateIP(ctx, svc, dry)
			if err != nil {
				return err
			}
			svc.Spec.ClusterIP = ip
		} else if old == nil || old.Spec.ClusterIP != svc.Spec.ClusterIP {
			ip := net.ParseIP(svc.Spec.ClusterIP)
			if ip == nil || !a.CIDR.Contains(ip) {
				return invalid(field.Invalid(spec.Child("clusterIP"), svc.Spec.ClusterIP,
					fmt.Sprintf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", svc.Spec.ClusterIP, a.CIDR)))
			}
			if err := a.reserve(ctx, ipPrefix+ip.String(), svc, dry); err != nil {
				if errors.Is(err, storage.ErrExists) {
					return invalid(field.Invalid(spec.Child("clusterIP"), svc.Spec.ClusterIP, "provided IP is already allocated"))
				}
				return err
			}
		}
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		family := corev1.IPv4Protocol
		if net.ParseIP(svc.Spec.ClusterIP).To4() == nil {
			family = corev1.IPv6Protocol
		}
		svc.Spec.IPFamilies = []corev1.IPFamily{family}
		singleUnlessSet()
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				if int(p.NodePort) < a.PortLow || int(p.NodePort) > a.PortHigh {
					return invalid(field.Invalid(spec.Child("ports").Index(i).Child("nodePort"), p.NodePort,
						fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.PortLow, a.PortHigh)))
				}
				if old != nil && hasNodePort(old, p.NodePort) {
					continue
				}
				if err := a.reserve(ctx, portPrefix+strconv.Itoa(int(p.NodePort)), svc, dry); err != nil {
					if errors.Is(err, storage.ErrExists) {
						return invalid(field.Invalid(spec.Child("ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated"))
					}
					return err
				}
				continue
			}
			port, err := a.allocatePort(ctx, svc, dry)
			if err != nil {
				return err
			}
			p.NodePort = int32(port)
		}
	}
	return nil
}

func hasNodePort(svc *corev1.Service, port int32) bool {
	for _, p := range svc.Spec.Ports {
		if p.NodePort == port {
			return true
		}
	}
	return false
}

// reserve claims key for svc; a dry run only checks that it is free. A
// reservation the same Service (by namespace and name) already holds is
// its own: one left by a create that failed after admission, or by a
// Service deleted and made again before repair released it.
func (a *Allocator) reserve(ctx context.Context, key string, svc *corev1.Service, dry bool) error {
	var err error
	if dry {
		_, err = a.KV.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err == nil {
			err = storage.ErrExists
		}
	} else {
		_, err = a.KV.Create(ctx, key, owner(svc.Namespace, svc.Name, time.Now()))
	}
	if errors.Is(err, storage.ErrExists) {
		if it, gerr := a.KV.Get(ctx, key); gerr == nil {
			if who, _ := parseOwner(it.Value); who == svc.Namespace+"/"+svc.Name {
				return nil
			}
		}
	}
	return err
}

// allocateIP picks a free address: random probes first, then a scan.
func (a *Allocator) allocateIP(ctx context.Context, svc *corev1.Service, dry bool) (string, error) {
	base := new(big.Int).SetBytes(a.CIDR.IP.To16())
	ones, bits := a.CIDR.Mask.Size()
	size := new(big.Int).Lsh(big.NewInt(1), uint(bits-ones))
	usable := new(big.Int).Sub(size, big.NewInt(2)) // not the network or broadcast address
	if usable.Sign() <= 0 {
		return "", apierrors.NewInternalError(errors.New("the service IP range is too small"))
	}
	// Offset 1 is the kubernetes Service; start probing after it.
	try := func(offset *big.Int) (string, bool, error) {
		ip := bigToIP(new(big.Int).Add(base, offset), len(a.CIDR.IP))
		err := a.reserve(ctx, ipPrefix+ip.String(), svc, dry)
		if errors.Is(err, storage.ErrExists) {
			return "", false, nil
		}
		return ip.String(), err == nil, err
	}
	for range 32 {
		off := new(big.Int).Add(big.NewInt(2), randBig(new(big.Int).Sub(usable, big.NewInt(1))))
		if ip, ok, err := try(off); ok || err != nil {
			return ip, err
		}
	}
	limit := min(usable.Int64(), 1<<20)
	for i := int64(2); i <= limit; i++ {
		if ip, ok, err := try(big.NewInt(i)); ok || err != nil {
			return ip, err
		}
	}
	return "", apierrors.NewInternalError(errors.New("failed to allocate a serviceIP: range is full"))
}

func (a *Allocator) allocatePort(ctx context.Context, svc *corev1.Service, dry bool) (int, error) {
	n := a.PortHigh - a.PortLow + 1
	start := rand.IntN(n)
	for i := range n {
		port := a.PortLow + (start+i)%n
		err := a.reserve(ctx, portPrefix+strconv.Itoa(port), svc, dry)
		if errors.Is(err, storage.ErrExists) {
			continue
		}
		return port, err
	}
	return 0, apierrors.NewInternalError(errors.New("failed to allocate a nodePort: range is full"))
}

func randBig(n *big.Int) *big.Int {
	if n.Sign() <= 0 {
		return big.NewInt(0)
	}
	if n.IsInt64() {
		return big.NewInt(rand.Int64N(n.Int64()))
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], rand.Uint64())
	return new(big.Int).Mod(new(big.Int).SetBytes(b[:]), n)
}

func bigToIP(n *big.Int, length int) net.IP {
	b := n.Bytes()
	ip := make(net.IP, 16)
	copy(ip[16-len(b):], b)
	if length == net.IPv4len {
		return ip.To4()
	}
	return ip
}

// Repair releases reservations whose Service is gone or no longer uses
// them. Reservations younger than Grace are left alone.
func (a *Allocator) Repair(ctx context.Context, st *store.Store, services *catalog.Resource) error {
	list, err := st.List(ctx, services, store.ListOptions{})
	if err != nil {
		return err
	}
	inUse := map[string]string{}
	for _, e := range list.Items {
		obj, err := e.Object()
		if err != nil {
			return err
		}
		svc := obj.(*corev1.Service)
		who := svc.Namespace + "/" + svc.Name
		if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			inUse[ipPrefix+svc.Spec.ClusterIP] = who
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				inUse[portPrefix+strconv.Itoa(int(p.NodePort))] = who
			}
		}
	}
	for _, prefix := range []string{ipPrefix, portPrefix} {
		res, err := a.KV.List(ctx, prefix, storage.ListOptions{})
		if err != nil {
			return err
		}
		for _, it := range res.Items {
			who, since := parseOwner(it.Value)
			if inUse[it.Key] == who || time.Since(since) < a.Grace {
				continue
			}
			if _, _, err := a.KV.Delete(ctx, it.Key, it.ModRev); err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrConflict) {
				return err
			}
			a.Log.Debug("released service allocation", "key", it.Key, "owner", who)
		}
	}
	return nil
}

// RunRepair repairs on every Service deletion and every interval.
func (a *Allocator) RunRepair(ctx context.Context, st *store.Store, services *catalog.Resource, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for ctx.Err() == nil {
		events, err := st.Watch(ctx, services, store.WatchOptions{})
		if err != nil {
			a.Log.Warn("service allocator: watch failed", "err", err)
		}
		for loop := events != nil; loop; {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					loop = false
					break
				}
				if ev.Type == store.WatchDeleted {
					if err := a.Repair(ctx, st, services); err != nil {
						a.Log.Warn("service allocator: repair failed", "err", err)
					}
				}
			case <-t.C:
				if err := a.Repair(ctx, st, services); err != nil {
					a.Log.Warn("service allocator: repair failed", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}
