// Package eviction answers pods/eviction, the policy/v1 Eviction
// subresource kubectl drain uses: a pod is deleted only when the
// PodDisruptionBudget that selects it allows one more disruption, and the
// budget records the pod as disrupted so that its controller does not count
// it twice. It follows kube-apiserver's eviction REST storage.
package eviction

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/store"
)

// maxDisruptedPods bounds a budget's record of evictions its controller has
// not yet seen, as kube-apiserver does.
const maxDisruptedPods = 2000

// attempts is how often an eviction starts over when the pod or its budget
// changed under it.
const attempts = 5

// Evictor evicts pods through the write loop.
type Evictor struct {
	Writer *store.Writer
	Pods   *catalog.Resource
	// Budgets is policy/v1 poddisruptionbudgets.
	Budgets *catalog.Resource
	Now     func() time.Time
}

// Evict is the ActionFunc of pods/eviction. It answers with a Status: 201
// Success once the pod is deleted, or 500 when more than one budget selects
// the pod; a budget that allows no disruption is a 429.
func (e *Evictor) Evict(ctx context.Context, parent, in catalog.Object) (runtime.Object, error) {
	ev := in.(*policyv1.Eviction)
	pod := parent.(*corev1.Pod)
	if ev.Name != pod.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if opts.IgnoreStoreReadErrorWithClusterBreakingPotential != nil && *opts.IgnoreStoreReadErrorWithClusterBreakingPotential {
		return nil, apierrors.NewInvalid(policyv1.SchemeGroupVersion.WithKind("Eviction").GroupKind(), ev.Name, field.ErrorList{
			field.Invalid(field.NewPath("deleteOptions", "ignoreStoreReadErrorWithClusterBreakingPotential"), true, "can not be set for pod eviction, try after removing the option")})
	}
	dry := len(opts.DryRun) > 0 || catalog.DryRun(ctx)
	pre := store.Preconditions{}
	if p := opts.Preconditions; p != nil {
		if p.UID != nil {
			pre.UID = string(*p.UID)
		}
		if p.ResourceVersion != nil {
			pre.ResourceVersion = *p.ResourceVersion
		}
	}
	var err error
	for range attempts {
		var answer *metav1.Status
		answer, err = e.try(ctx, pod.Namespace, pod.Name, pre, dry)
		if err == nil {
			return answer, nil
		}
		// A conflict starts over, unless the client named the revision.
		if !apierrors.IsConflict(err) || pre.ResourceVersion != "" {
			return nil, err
		}
	}
	return nil, err
}

// try makes one attempt at an eviction against the pod as it is now.
func (e *Evictor) try(ctx context.Context, namespace, name string, pre store.Preconditions, dry bool) (*metav1.Status, error) {
	obj, err := e.Writer.GetObject(ctx, e.Pods, namespace, name)
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	// A pod that is done, not yet running or already going disrupts
	// nothing more: it is deleted whatever the budgets say.
	if ignoresBudgets(pod) {
		p := pre
		if enforcesRevision(pod) && p.ResourceVersion == "" {
			p.ResourceVersion = pod.ResourceVersion
		}
		return success(), e.deletePod(ctx, pod, p, dry)
	}
	budgets, err := e.budgetsOf(ctx, pod)
	if err != nil {
		return nil, err
	}
	switch len(budgets) {
	case 0:
		return success(), e.deletePod(ctx, pod, pre, dry)
	case 1:
	default:
		return &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusFailure, Code: http.StatusInternalServerError,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
		}, nil
	}
	budget := budgets[0]
	if !ready(pod) {
		policy := budget.Spec.UnhealthyPodEvictionPolicy
		healthy := budget.Status.DesiredHealthy > 0 && budget.Status.CurrentHealthy >= budget.Status.DesiredHealthy
		if (policy != nil && *policy == policyv1.AlwaysAllow) || healthy {
			// An unready pod does not count towards the budget; deleting it
			// disrupts nothing, as long as it does not become ready first.
			p := pre
			p.ResourceVersion = pod.ResourceVersion
			if err := e.deletePod(ctx, pod, p, dry); err != nil {
				if apierrors.IsConflict(err) && pre.ResourceVersion == "" {
					return nil, stillProcessing(budget.Name)
				}
				return nil, err
			}
			return success(), nil
		}
	}
	if err := e.takeDisruption(ctx, budget.Name, pod, dry); err != nil {
		return nil, err
	}
	return success(), e.deletePod(ctx, pod, pre, dry)
}

// budgetsOf lists the budgets in the pod's namespace whose selector
// matches it; a budget with an invalid selector matches nothing.
func (e *Evictor) budgetsOf(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	list, err := e.Writer.List(ctx, e.Budgets, store.ListOptions{Namespace: pod.Namespace})
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for _, entry := range list.Items {
		obj, err := entry.Object()
		if err != nil {
			return nil, err
		}
		b := obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// takeDisruption spends one of the budget's allowed disruptions on the
// pod, in the budget's write loop, or says why it cannot.
func (e *Evictor) takeDisruption(ctx context.Context, name string, pod *corev1.Pod, dry bool) error {
	status := e.Budgets.Subresource("status")
	_, err := e.Writer.Update(ctx, store.Target{Resource: e.Budgets, Subresource: status, Namespace: pod.Namespace, Name: name},
		store.Options{DryRun: dry}, func(cur catalog.Object) (catalog.Object, error) {
			b := cur.(*policyv1.PodDisruptionBudget)
			if err := allows(b); err != nil {
				return nil, err
			}
			b.Status.DisruptionsAllowed--
			if b.Status.DisruptionsAllowed == 0 {
				apimeta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
					Reason: policyv1.InsufficientPodsReason, ObservedGeneration: b.Status.ObservedGeneration})
			}
			if b.Status.DisruptedPods == nil {
				b.Status.DisruptedPods = map[string]metav1.Time{}
			}
			b.Status.DisruptedPods[pod.Name] = metav1.NewTime(e.now())
			return b, nil
		})
	return err
}

// allows reports why a budget allows no disruption now, or nil.
func allows(b *policyv1.PodDisruptionBudget) error {
	if b.Status.ObservedGeneration < b.Generation {
		return stillProcessing(b.Name)
	}
	refused := func(why string) error {
		err := apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), b.Name, errors.New(why))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: %s", b.Name, why)})
		return err
	}
	switch {
	case b.Status.DisruptionsAllowed < 0:
		return refused("pdb disruptions allowed is negative")
	case len(b.Status.DisruptedPods) > maxDisruptedPods:
		return refused("too many pending evictions not confirmed by PDB controller")
	case b.Status.DisruptionsAllowed > 0:
		return nil
	}
	msg := fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", b.Name)
	cond := apimeta.FindStatusCondition(b.Status.Conditions, policyv1.DisruptionAllowedCondition)
	switch {
	case cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != "" && cond.Reason == policyv1.SyncFailedReason:
		msg = fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", b.Name, cond.Message)
	case b.Status.CurrentHealthy <= b.Status.DesiredHealthy:
		msg = fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", b.Name, b.Status.DesiredHealthy, b.Status.CurrentHealthy)
	case cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != "":
		msg = fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", b.Name, cond.Reason, cond.Message)
	}
	return tooManyRequests(0, msg)
}

// stillProcessing is the 429 for a budget its controller has not caught
// up with: the client retries after ten seconds.
func stillProcessing(name string) error {
	return tooManyRequests(10, fmt.Sprintf("The disruption budget %s is still being processed by the server.", name))
}

func tooManyRequests(retryAfter int, cause string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", retryAfter)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
	return err
}

// deletePod marks the pod as a disruption target and deletes it; the
// revision precondition, when set, follows the pod through the mark.
func (e *Evictor) deletePod(ctx context.Context, pod *corev1.Pod, pre store.Preconditions, dry bool) error {
	if !dry {
		status := e.Pods.Subresource("status")
		entry, err := e.Writer.Update(ctx, store.Target{Resource: e.Pods, Subresource: status, Namespace: pod.Namespace, Name: pod.Name},
			store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
				p := cur.(*corev1.Pod)
				if err := pre.Check(e.Pods, p); err != nil {
					return nil, err
				}
				catalog.SetPodCondition(&p.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
					Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"}, e.now())
				return p, nil
			})
		if err != nil {
			return err
		}
		if pre.ResourceVersion != "" {
			obj, err := entry.Object()
			if err != nil {
				return err
			}
			pre.ResourceVersion = obj.GetResourceVersion()
		}
	}
	_, _, err := e.Writer.Delete(ctx, store.ObjectTarget(e.Pods, pod.Namespace, pod.Name), store.DeleteOptions{Preconditions: pre, DryRun: dry})
	return err
}

func (e *Evictor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func success() *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
}

// ignoresBudgets: terminal, pending and terminating pods are deleted
// without asking their budget.
func ignoresBudgets(p *corev1.Pod) bool {
	switch p.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return p.DeletionTimestamp != nil
}

// enforcesRevision: a pod that could still become ready is deleted only at
// the revision that was judged.
func enforcesRevision(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
