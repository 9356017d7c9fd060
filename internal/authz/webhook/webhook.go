// Package webhook authorizes requests by asking a remote service, as
// kube-apiserver's --authorization-mode=Webhook does: it POSTs an
// authorization.k8s.io/v1 SubjectAccessReview describing the request and
// follows the status the service returns. A failed call (transport error,
// timeout, non-2xx answer, unreadable body) is an error with no opinion:
// it never allows, and it is not cached.
package webhook

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/sekisho/sekisho/internal/authn"
	authnwebhook "github.com/sekisho/sekisho/internal/authn/webhook"
	"github.com/sekisho/sekisho/internal/authz"
)

// Defaults, as kube-apiserver's --authorization-webhook-* flags have them.
const (
	DefaultAuthorizedTTL   = 5 * time.Minute
	DefaultUnauthorizedTTL = 30 * time.Second
	// DefaultTimeout is how long one call to the webhook may take.
	// kube-apiserver gives a webhook configured by
	// --authorization-webhook-config-file 30s (the structured
	// AuthorizationConfiguration lets the admin choose up to 30s).
	DefaultTimeout = 30 * time.Second
	// DefaultCacheSize bounds the number of cached answers.
	DefaultCacheSize = 10000
	// Version is the only SubjectAccessReview version spoken.
	Version = "v1"
)

// Options tune an Authorizer. Zero values take the defaults.
type Options struct {
	// AuthorizedTTL is how long an allowed answer is remembered;
	// UnauthorizedTTL how long a denied or no-opinion answer is. A
	// negative TTL turns caching of that kind of answer off (kube's
	// --authorization-webhook-cache-*-ttl=0).
	AuthorizedTTL   time.Duration
	UnauthorizedTTL time.Duration
	// Version is the SubjectAccessReview version; only "v1" is supported.
	Version string
	// Timeout bounds one call to the webhook (NewFromFile only).
	Timeout time.Duration
	// CacheSize bounds the cache; the least recently used answer goes.
	CacheSize int
	// Now is the clock, for tests.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.AuthorizedTTL == 0 {
		o.AuthorizedTTL = DefaultAuthorizedTTL
	}
	if o.UnauthorizedTTL == 0 {
		o.UnauthorizedTTL = DefaultUnauthorizedTTL
	}
	if o.Version == "" {
		o.Version = Version
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func checkVersion(v string) error {
	if v != Version {
		return fmt.Errorf("authorization webhook: unsupported SubjectAccessReview version %q (only %q is supported)", v, Version)
	}
	return nil
}

// Authorizer asks a webhook about requests and caches its answers.
type Authorizer struct {
	client *authnwebhook.Client
	opts   Options

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*list.Element
	lru   *list.List // of *entry, most recently used first
}

type entry struct {
	key     [sha256.Size]byte
	status  authorizationv1.SubjectAccessReviewStatus
	expires time.Time
}

var _ authz.Authorizer = (*Authorizer)(nil)

// New returns an Authorizer that posts to client. An unsupported
// opts.Version makes every Authorize fail (with no opinion); NewFromFile
// rejects it up front.
func New(client *authnwebhook.Client, opts Options) *Authorizer {
	return &Authorizer{
		client: client,
		opts:   opts.withDefaults(),
		cache:  map[[sha256.Size]byte]*list.Element{},
		lru:    list.New(),
	}
}

// NewFromFile reads a webhook kubeconfig (see authnwebhook.NewClient: an
// https:// server, its CA, and the API server's client certificate or
// token) and returns an Authorizer for it. Each call to the webhook may
// take opts.Timeout, 30s by default as in kube-apiserver.
func NewFromFile(path string, opts Options) (*Authorizer, error) {
	opts = opts.withDefaults()
	if err := checkVersion(opts.Version); err != nil {
		return nil, err
	}
	client, err := authnwebhook.NewClient(path, opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("authorization webhook: %w", err)
	}
	return New(client, opts), nil
}

// Review returns the SubjectAccessReview Authorize posts for a.
func Review(a authz.Attributes) *authorizationv1.SubjectAccessReview {
	r := &authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: authorizationv1.SchemeGroupVersion.String(), Kind: "SubjectAccessReview"},
	}
	if u := a.User; u != nil {
		r.Spec.User, r.Spec.UID, r.Spec.Groups = u.Name, u.UID, u.Groups
		if u.Extra != nil {
			r.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(u.Extra))
			for k, v := range u.Extra {
				r.Spec.Extra[k] = authorizationv1.ExtraValue(v)
			}
		}
	}
	if !a.ResourceRequest {
		r.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.Path, Verb: a.Verb}
		return r
	}
	ra := &authorizationv1.ResourceAttributes{
		Namespace:   a.Namespace,
		Verb:        a.Verb,
		Group:       a.Group,
		Version:     a.Version,
		Resource:    a.Resource,
		Subresource: a.Subresource,
		Name:        a.Name,
	}
	// Like kube-apiserver, send selectors parsed into requirements, never
	// raw (webhooks are told to ignore rawSelector). A selector only
	// narrows a request, so one that does not parse, or requirements the
	// API cannot express, are left out: the webhook is asked about the
	// broader request.
	if reqs := fieldRequirements(a.FieldSelector); len(reqs) > 0 {
		ra.FieldSelector = &authorizationv1.FieldSelectorAttributes{Requirements: reqs}
	}
	if reqs := labelRequirements(a.LabelSelector); len(reqs) > 0 {
		ra.LabelSelector = &authorizationv1.LabelSelectorAttributes{Requirements: reqs}
	}
	r.Spec.ResourceAttributes = ra
	return r
}

func fieldRequirements(s string) []metav1.FieldSelectorRequirement {
	if s == "" {
		return nil
	}
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return nil
	}
	var out []metav1.FieldSelectorRequirement
	for _, r := range sel.Requirements() {
		var op metav1.FieldSelectorOperator
		switch r.Operator {
		case selection.Equals, selection.DoubleEquals, selection.In:
			op = metav1.FieldSelectorOpIn
		case selection.NotEquals, selection.NotIn:
			op = metav1.FieldSelectorOpNotIn
		default:
			continue
		}
		out = append(out, metav1.FieldSelectorRequirement{Key: r.Field, Operator: op, Values: []string{r.Value}})
	}
	return out
}

func labelRequirements(s string) []metav1.LabelSelectorRequirement {
	if s == "" {
		return nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil
	}
	reqs, _ := sel.Requirements()
	var out []metav1.LabelSelectorRequirement
	for _, r := range reqs {
		var op metav1.LabelSelectorOperator
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
			op = metav1.LabelSelectorOpIn
		case selection.NotEquals, selection.NotIn:
			op = metav1.LabelSelectorOpNotIn
		case selection.Exists:
			op = metav1.LabelSelectorOpExists
		case selection.DoesNotExist:
			op = metav1.LabelSelectorOpDoesNotExist
		default: // gt, lt: cannot be expressed
			continue
		}
		lr := metav1.LabelSelectorRequirement{Key: r.Key(), Operator: op}
		if v := r.ValuesUnsorted(); len(v) > 0 {
			lr.Values = v
		}
		out = append(out, lr)
	}
	return out
}

// Authorize implements authz.Authorizer. An allowed status allows, a
// denied status denies, and anything else has no opinion; the reason is
// the webhook's status.reason, with its status.evaluationError appended.
// A status both allowed and denied denies. A failed call returns
// (NoOpinion, "", err).
func (z *Authorizer) Authorize(ctx context.Context, a authz.Attributes) (authz.Decision, string, error) {
	if err := checkVersion(z.opts.Version); err != nil {
		return authz.NoOpinion, "", err
	}
	if z.client == nil {
		return authz.NoOpinion, "", errors.New("authorization webhook: no client")
	}
	review := Review(a)
	// The key is a digest of the spec's JSON: every field the webhook
	// sees, in a canonical order (struct fields in order, map keys
	// sorted), so two requests share an answer only if the webhook could
	// not tell them apart. Keys are fixed-size whatever the request.
	spec, err := json.Marshal(review.Spec)
	if err != nil {
		return authz.NoOpinion, "", fmt.Errorf("authorization webhook: %w", err)
	}
	key := sha256.Sum256(spec)
	status, hit := z.lookup(key)
	if !hit {
		var answer authorizationv1.SubjectAccessReview
		if err := z.client.Post(ctx, review, &answer); err != nil {
			return authz.NoOpinion, "", fmt.Errorf("authorization webhook: %w", err)
		}
		if err := authnwebhook.CheckAnswerType(answer.APIVersion, answer.Kind, review.APIVersion, review.Kind); err != nil {
			return authz.NoOpinion, "", fmt.Errorf("authorization webhook: %w", err)
		}
		status = answer.Status
		ttl := z.opts.UnauthorizedTTL
		if status.Allowed {
			ttl = z.opts.AuthorizedTTL
		}
		z.store(key, status, ttl)
	}
	return decide(status)
}

func decide(s authorizationv1.SubjectAccessReviewStatus) (authz.Decision, string, error) {
	reason := s.Reason
	if s.EvaluationError != "" {
		if reason != "" {
			reason += "; "
		}
		reason += "evaluation error: " + s.EvaluationError
	}
	switch {
	case s.Allowed && s.Denied:
		// kube-apiserver denies with an error; our Chain would read an
		// error as no opinion, so deny outright.
		if reason != "" {
			reason = "; " + reason
		}
		return authz.Deny, "webhook answered both allowed and denied" + reason, nil
	case s.Denied:
		return authz.Deny, reason, nil
	case s.Allowed:
		return authz.Allow, reason, nil
	}
	return authz.NoOpinion, reason, nil
}

func (z *Authorizer) lookup(key [sha256.Size]byte) (authorizationv1.SubjectAccessReviewStatus, bool) {
	now := z.opts.Now()
	z.mu.Lock()
	defer z.mu.Unlock()
	el, ok := z.cache[key]
	if !ok {
		return authorizationv1.SubjectAccessReviewStatus{}, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		z.lru.Remove(el)
		delete(z.cache, key)
		return authorizationv1.SubjectAccessReviewStatus{}, false
	}
	z.lru.MoveToFront(el)
	return e.status, true
}

func (z *Authorizer) store(key [sha256.Size]byte, status authorizationv1.SubjectAccessReviewStatus, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	expires := z.opts.Now().Add(ttl)
	z.mu.Lock()
	defer z.mu.Unlock()
	if el, ok := z.cache[key]; ok {
		e := el.Value.(*entry)
		e.status, e.expires = status, expires
		z.lru.MoveToFront(el)
		return
	}
	for z.lru.Len() >= z.opts.CacheSize {
		oldest := z.lru.Back()
		z.lru.Remove(oldest)
		delete(z.cache, oldest.Value.(*entry).key)
	}
	z.cache[key] = z.lru.PushFront(&entry{key: key, status: status, expires: expires})
}

// cached returns the number of cached answers, for tests.
func (z *Authorizer) cached() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.lru.Len()
}

// RulesFor implements authz.RuleResolver. A webhook answers questions but
// cannot list what it would allow, so its part of the answer is incomplete.
func (z *Authorizer) RulesFor(context.Context, *authn.User, string) ([]rbacv1.PolicyRule, bool, error) {
	return nil, true, errors.New("webhook authorizer does not support user rule resolution")
}
