package v1alpha1

import "k8s.io/apimachinery/pkg/runtime"

// DeepCopy returns a copy sharing nothing with r.
func (r *AccessReview) DeepCopy() *AccessReview {
	if r == nil {
		return nil
	}
	out := &AccessReview{TypeMeta: r.TypeMeta}
	r.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if s := r.Spec.ResourceAttributes; s != nil {
		out.Spec.ResourceAttributes = s.DeepCopy()
	}
	if s := r.Spec.NonResourceAttributes; s != nil {
		out.Spec.NonResourceAttributes = s.DeepCopy()
	}
	out.Spec.User = r.Spec.User
	out.Spec.Groups = append([]string(nil), r.Spec.Groups...)
	st := r.Status
	out.Status = AccessReviewStatus{Allowed: st.Allowed, Reason: st.Reason}
	out.Status.AlwaysAllowedGroups = append([]string(nil), st.AlwaysAllowedGroups...)
	for _, g := range st.Subjects {
		out.Status.Subjects = append(out.Status.Subjects, g.deepCopy())
	}
	if st.Grant != nil {
		g := st.Grant.deepCopy()
		out.Status.Grant = &g
	}
	for _, n := range st.Nearest {
		out.Status.Nearest = append(out.Status.Nearest, NearMiss{Grant: n.Grant.deepCopy(), Differences: append([]string(nil), n.Differences...)})
	}
	return out
}

func (g Grant) deepCopy() Grant {
	out := g
	g.Rule.DeepCopyInto(&out.Rule)
	return out
}

// DeepCopyObject implements runtime.Object.
func (r *AccessReview) DeepCopyObject() runtime.Object { return r.DeepCopy() }

// DeepCopy returns a copy sharing nothing with r.
func (r *SelfAccessReview) DeepCopy() *SelfAccessReview {
	if r == nil {
		return nil
	}
	// An AccessReview without a user has the same parts.
	ar := (&AccessReview{TypeMeta: r.TypeMeta, ObjectMeta: r.ObjectMeta, Status: r.Status,
		Spec: AccessReviewSpec{ResourceAttributes: r.Spec.ResourceAttributes, NonResourceAttributes: r.Spec.NonResourceAttributes}}).DeepCopy()
	return &SelfAccessReview{TypeMeta: ar.TypeMeta, ObjectMeta: ar.ObjectMeta, Status: ar.Status,
		Spec: SelfAccessReviewSpec{ResourceAttributes: ar.Spec.ResourceAttributes, NonResourceAttributes: ar.Spec.NonResourceAttributes}}
}

// DeepCopyObject implements runtime.Object.
func (r *SelfAccessReview) DeepCopyObject() runtime.Object { return r.DeepCopy() }
