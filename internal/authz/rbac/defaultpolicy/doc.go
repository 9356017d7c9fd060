// Package defaultpolicy holds the RBAC objects a Kubernetes control plane
// starts with, and the additive reconciliation kube-apiserver applies to
// them at every start.
//
// Kubernetes returns what kube-apiserver's bootstrap policy creates: the
// user-facing and system cluster roles with their bindings, one role and
// binding per kube-controller-manager controller (system:controller:*),
// and the namespaced roles and bindings in kube-system and kube-public.
// Kubeadm returns the few extra objects `kubeadm init` creates once.
//
// Version followed: the bootstrap policy as kube-apiserver renders it with
// its default feature gates in Kubernetes 1.36 (the release line that ships
// fine-grained kubelet authorization, DRA at GA with DRA extended resources,
// and DRA granular status authorization, all on by default). Alpha
// features that are off by default add nothing here. The tables are our
// own; each role lists its rules in Kubernetes' order, and every rule's
// verbs, groups, resources, names and URLs are sorted and de-duplicated,
// which is the form kube-apiserver stores.
//
// Every object in Kubernetes carries the label
// kubernetes.io/bootstrapping=rbac-defaults and the annotation
// rbac.authorization.kubernetes.io/autoupdate="true"; kubeadm's objects
// carry neither.
package defaultpolicy
