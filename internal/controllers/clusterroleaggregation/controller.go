// Package clusterroleaggregation keeps aggregated ClusterRoles current: a
// ClusterRole with an aggregationRule gets the rules of every ClusterRole
// its label selectors match, as kube-controller-manager's
// clusterrole-aggregation controller does.
package clusterroleaggregation

import (
	"context"
	"errors"
	"log/slog"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/store"
)

// Controller recomputes every aggregated ClusterRole whenever any
// ClusterRole changes. There are few aggregated roles, so recomputing all
// of them is simpler than tracking which selectors a change touches, and
// it converges when aggregated roles select each other (admin selects
// edit, which selects view's aggregate).
type Controller struct {
	Store        *store.Writer
	Resource     *catalog.Resource // clusterroles
	ClusterRoles *informer.Informer
	Log          *slog.Logger

	changes <-chan struct{}
}

// Register subscribes to ClusterRole changes; call before the informer runs.
func (c *Controller) Register() { c.changes = c.ClusterRoles.Changes() }

// Run works until ctx ends; a failed pass is logged and retried.
func (c *Controller) Run(ctx context.Context) {
	informer.RunOnChange(ctx, c.ClusterRoles, c.changes, 0, func(ctx context.Context) error {
		err := c.syncAll(ctx)
		if err != nil && ctx.Err() == nil {
			c.Log.Warn("clusterrole aggregation failed; retrying", "err", err)
		}
		return err
	})
}

func (c *Controller) syncAll(ctx context.Context) error {
	all := c.ClusterRoles.List()
	roles := make([]*rbacv1.ClusterRole, 0, len(all))
	for _, o := range all {
		roles = append(roles, o.(*rbacv1.ClusterRole).DeepCopy())
	}
	sort.Slice(roles, func(i, j int) bool { return roles[i].Name < roles[j].Name })
	// Aggregated roles aggregate each other (admin takes edit's rules,
	// edit takes view's): work on copies until nothing changes, so each
	// role is written once with its final rules, not once per level.
	changed := map[string]bool{}
	for range len(roles) + 1 {
		again := false
		for _, r := range roles {
			if r.AggregationRule == nil {
				continue
			}
			if rules := Aggregate(r, roles); !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed[r.Name], again = rules, true, true
			}
		}
		if !again {
			break
		}
	}
	var firstErr error
	for _, r := range roles {
		if !changed[r.Name] {
			continue
		}
		rules := r.Rules
		_, err := c.Store.Update(ctx, store.ObjectTarget(c.Resource, "", r.Name), store.Options{}, func(cur catalog.Object) (catalog.Object, error) {
			cr := cur.(*rbacv1.ClusterRole)
			if equality.Semantic.DeepEqual(cr.Rules, rules) {
				return nil, errUpToDate // the cache lagged behind an earlier pass
			}
			cr.Rules = rules
			return cr, nil
		})
		switch {
		case err == nil:
			c.Log.Info("aggregated clusterrole", "name", r.Name, "rules", len(rules))
		case errors.Is(err, errUpToDate), apierrors.IsNotFound(err):
		case firstErr == nil:
			firstErr = err
		}
	}
	return firstErr
}

var errUpToDate = errors.New("already aggregated")

// Aggregate returns the rules of role's aggregation: for each selector in
// order, the rules of the matching ClusterRoles (other than role itself)
// in name order, each rule once. roles must be sorted by name.
func Aggregate(role *rbacv1.ClusterRole, roles []*rbacv1.ClusterRole) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, s := range role.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&s)
		if err != nil {
			continue // validation refuses bad selectors; an old one matches nothing
		}
		for _, other := range roles {
			if other.Name == role.Name || !sel.Matches(labels.Set(other.Labels)) {
				continue
			}
			for _, rule := range other.Rules {
				if !contains(out, rule) {
					out = append(out, rule)
				}
			}
		}
	}
	return out
}

func contains(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, x := range rules {
		if equality.Semantic.DeepEqual(x, r) {
			return true
		}
	}
	return false
}
