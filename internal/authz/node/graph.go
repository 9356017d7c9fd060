package node

import (
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/sekisho/sekisho/internal/podspec"
)

// Kind is a type of object a node may reach through the pods bound to it.
type Kind uint8

// Kinds of objects in the graph.
const (
	KindPod Kind = iota + 1
	KindSecret
	KindConfigMap
	KindPersistentVolumeClaim
	KindPersistentVolume
	KindServiceAccount
)

func (k Kind) String() string {
	switch k {
	case KindPod:
		return "pod"
	case KindSecret:
		return "secret"
	case KindConfigMap:
		return "configmap"
	case KindPersistentVolumeClaim:
		return "persistentvolumeclaim"
	case KindPersistentVolume:
		return "persistentvolume"
	case KindServiceAccount:
		return "serviceaccount"
	}
	return "unknown"
}

// objKey names an object a pod refers to. Persistent volumes are
// cluster-scoped: their namespace is empty.
type objKey struct {
	kind      Kind
	namespace string
	name      string
}

type nsName struct{ namespace, name string }

// podEntry is what the graph remembers of a bound pod: its node and the
// distinct objects it refers to (persistent volumes excluded; they are
// reached through claims).
type podEntry struct {
	node string
	refs []objKey
}

// Graph records which objects each node may reach: the pods bound to it
// and what those pods refer to. An object referenced by several pods on a
// node is counted once per pod, so removing one pod leaves the others'
// access intact. Every update costs time in proportion to the pod's (or
// claim's) references; nothing is ever rebuilt. A Graph is safe for
// concurrent use.
type Graph struct {
	mu sync.RWMutex
	// pods holds every bound pod.
	pods map[nsName]*podEntry
	// refs counts, per object, the references from each node's pods.
	refs map[objKey]map[string]int
	// volumes maps a claim to the persistent volume it is bound to.
	volumes map[nsName]string
	// nodes counts the pods bound to each node.
	nodes map[string]int
	// edges is the number of (object, node) pairs in refs.
	edges int
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{
		pods:    map[nsName]*podEntry{},
		refs:    map[objKey]map[string]int{},
		volumes: map[nsName]string{},
		nodes:   map[string]int{},
	}
}

// Sizes describes a graph's size, for metrics.
type Sizes struct {
	// Pods is the number of pods bound to a node.
	Pods int
	// Nodes is the number of nodes with at least one pod.
	Nodes int
	// Objects is the number of distinct objects some node may reach
	// through its pods (pods themselves excluded).
	Objects int
	// Edges is the number of (object, node) pairs.
	Edges int
	// Claims is the number of claims known to be bound to a volume.
	Claims int
}

// Sizes reports the graph's size.
func (g *Graph) Sizes() Sizes {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return Sizes{Pods: len(g.pods), Nodes: len(g.nodes), Objects: len(g.refs), Edges: g.edges, Claims: len(g.volumes)}
}

// podRefs lists the distinct objects a pod refers to, in a stable order,
// as the shared pod walker finds them. Mirror pods refer to nothing: a
// node creates them itself, and creating one must never grant it access
// to other objects (NodeRestriction also refuses mirror pods that name
// any). A pod without a service account name uses "default".
func podRefs(pod *corev1.Pod) []objKey {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return nil
	}
	var refs []objKey
	seen := map[objKey]struct{}{}
	add := func(kind Kind, name string) {
		k := objKey{kind: kind, namespace: pod.Namespace, name: name}
		if _, dup := seen[k]; dup {
			return
		}
		seen[k] = struct{}{}
		refs = append(refs, k)
	}
	if pod.Spec.ServiceAccountName == "" {
		add(KindServiceAccount, "default")
	}
	podspec.VisitReferences(pod, func(kind podspec.RefKind, name string) bool {
		switch kind {
		case podspec.RefServiceAccount:
			add(KindServiceAccount, name)
		case podspec.RefSecret:
			add(KindSecret, name)
		case podspec.RefConfigMap:
			add(KindConfigMap, name)
		case podspec.RefPersistentVolumeClaim:
			add(KindPersistentVolumeClaim, name)
		}
		return true
	})
	return refs
}

func equalRefs(a, b []objKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SetPod records a pod's current state. A pod without spec.nodeName is
// not (or no longer) bound to a node and is removed; a pod whose node
// changed moves with everything it refers to.
func (g *Graph) SetPod(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" {
		g.DeletePod(pod.Namespace, pod.Name)
		return
	}
	key := nsName{pod.Namespace, pod.Name}
	refs := podRefs(pod)
	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.pods[key]; old != nil {
		if old.node == pod.Spec.NodeName && equalRefs(old.refs, refs) {
			return
		}
		g.removePodLocked(key, old)
	}
	e := &podEntry{node: pod.Spec.NodeName, refs: refs}
	g.pods[key] = e
	g.nodes[e.node]++
	for _, r := range refs {
		g.addRefLocked(r, e.node, 1)
	}
}

// DeletePod forgets a pod.
func (g *Graph) DeletePod(namespace, name string) {
	key := nsName{namespace, name}
	g.mu.Lock()
	defer g.mu.Unlock()
	if old := g.pods[key]; old != nil {
		g.removePodLocked(key, old)
	}
}

func (g *Graph) removePodLocked(key nsName, e *podEntry) {
	for _, r := range e.refs {
		g.addRefLocked(r, e.node, -1)
	}
	if g.nodes[e.node]--; g.nodes[e.node] <= 0 {
		delete(g.nodes, e.node)
	}
	delete(g.pods, key)
}

// addRefLocked adds delta references from node to k. A reference to a
// claim bound to a volume is also a reference to the volume.
func (g *Graph) addRefLocked(k objKey, node string, delta int) {
	g.countLocked(k, node, delta)
	if k.kind == KindPersistentVolumeClaim {
		if pv := g.volumes[nsName{k.namespace, k.name}]; pv != "" {
			g.countLocked(objKey{kind: KindPersistentVolume, name: pv}, node, delta)
		}
	}
}

func (g *Graph) countLocked(k objKey, node string, delta int) {
	m := g.refs[k]
	if m == nil {
		if delta <= 0 {
			return
		}
		m = map[string]int{}
		g.refs[k] = m
	}
	prev := m[node]
	n := prev + delta
	switch {
	case n > 0:
		if prev == 0 {
			g.edges++
		}
		m[node] = n
	case prev > 0:
		delete(m, node)
		g.edges--
		if len(m) == 0 {
			delete(g.refs, k)
		}
	}
}

// SetPVC records the persistent volume a claim is bound to (its
// spec.volumeName; empty when unbound). Nodes whose pods use the claim
// may then get the volume.
func (g *Graph) SetPVC(namespace, name, volumeName string) {
	key := nsName{namespace, name}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.volumes[key]
	if old == volumeName {
		return
	}
	if volumeName == "" {
		delete(g.volumes, key)
	} else {
		g.volumes[key] = volumeName
	}
	users := g.refs[objKey{kind: KindPersistentVolumeClaim, namespace: namespace, name: name}]
	for node, n := range users {
		if old != "" {
			g.countLocked(objKey{kind: KindPersistentVolume, name: old}, node, -n)
		}
		if volumeName != "" {
			g.countLocked(objKey{kind: KindPersistentVolume, name: volumeName}, node, n)
		}
	}
}

// DeletePVC forgets a claim's volume.
func (g *Graph) DeletePVC(namespace, name string) { g.SetPVC(namespace, name, "") }

// Reachable reports whether node may reach the object: a pod bound to it,
// or an object a pod bound to it refers to (a volume through its claim).
// Persistent volumes take an empty namespace.
func (g *Graph) Reachable(node string, kind Kind, namespace, name string) bool {
	if node == "" || name == "" {
		return false
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if kind == KindPod {
		e := g.pods[nsName{namespace, name}]
		return e != nil && e.node == node
	}
	return g.refs[objKey{kind: kind, namespace: namespace, name: name}][node] > 0
}

// PodNode returns the node a pod is bound to.
func (g *Graph) PodNode(namespace, name string) (string, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	e := g.pods[nsName{namespace, name}]
	if e == nil {
		return "", false
	}
	return e.node, true
}
