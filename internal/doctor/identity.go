package doctor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/sekisho/sekisho/internal/apiclient"
	"github.com/sekisho/sekisho/internal/authn"
)

// checkToken reports on a bearer token, decoding a JWT's claims (without
// verifying them) to spot an expired one before the server is asked.
func checkToken(r *Report, k *kubeconfig, now time.Time) bool {
	token := k.cfg.BearerToken
	if token == "" && k.cfg.BearerTokenFile != "" {
		data, err := os.ReadFile(k.cfg.BearerTokenFile)
		if err != nil {
			r.add(Fail, StepCredential, fmt.Sprintf("the token file cannot be read: %v", err), "point tokenFile in the kubeconfig at a readable file")
			return false
		}
		if token = strings.TrimSpace(string(data)); token == "" {
			r.add(Fail, StepCredential, fmt.Sprintf("the token file %s is empty", k.cfg.BearerTokenFile), "write the token into it, or remove tokenFile from the kubeconfig")
			return false
		}
	}
	if token == "" {
		return true
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		r.add(OK, StepCredential, fmt.Sprintf("an opaque token of %d characters is present", len(token)), "")
		return true
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
		Iat int64  `json:"iat"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil {
		r.add(Warn, StepCredential, "the token looks like a JWT, but its claims cannot be read", "check that the whole token was copied")
		return true
	}
	if c.Exp != 0 && now.After(time.Unix(c.Exp, 0)) {
		r.add(Fail, StepCredential, fmt.Sprintf("the token (a JWT for %q from %q) expired at %s", c.Sub, c.Iss, time.Unix(c.Exp, 0).UTC().Format(time.RFC3339)),
			"get a new token (kubectl create token SERVICE_ACCOUNT, or log in to your identity provider again)")
		return false
	}
	if c.Exp != 0 && c.Iat != 0 {
		exp := time.Unix(c.Exp, 0)
		k.tokenSubject = c.Sub
		if left := exp.Sub(now); left < expiryThreshold(exp.Sub(time.Unix(c.Iat, 0))) {
			r.add(Warn, StepCredential, fmt.Sprintf("the token (a JWT for %q) expires in %s", c.Sub, humanDuration(left)), "get a new one before then")
			return true
		}
	}
	k.tokenSubject = c.Sub
	r.add(OK, StepCredential, fmt.Sprintf("a JWT for %q from issuer %q", c.Sub, c.Iss), "")
	return true
}

// checkIdentity asks the server who it takes the client for. On a 401 it
// asks the server why, presenting the same credential.
func checkIdentity(ctx context.Context, r *Report, k *kubeconfig, o Options) (*authenticationv1.UserInfo, bool) {
	c, err := apiclient.FromConfig(k.cfg)
	if err != nil {
		r.add(Fail, StepCredential, "the credential cannot be used: "+err.Error(), "fix the user entry: kubectl config view")
		return nil, false
	}
	var out authenticationv1.SelfSubjectReview
	err = c.Do(ctx, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", &authenticationv1.SelfSubjectReview{}, &out)
	switch {
	case err == nil:
	case apierrors.IsUnauthorized(err):
		explainRefusal(ctx, r, c, k, apiclient.AuditIDOf(err))
		return nil, false
	case apierrors.IsForbidden(err):
		r.add(Warn, StepIdentity, "authenticated, but not allowed to ask who you are (403)", "bind a role granting create on selfsubjectreviews (system:basic-user does)")
		return nil, false
	case strings.Contains(err.Error(), "exec:") || strings.Contains(err.Error(), "getting credentials"):
		r.add(Fail, StepCredential, "the exec credential plugin failed: "+err.Error(), "run the plugin by hand to see why (kubectl config view shows its command and arguments)")
		return nil, false
	default:
		r.add(Fail, StepIdentity, "asking the server who you are failed: "+err.Error(), "")
		return nil, false
	}
	u := out.Status.UserInfo
	if !k.usesCertificate() || u.Username == k.userName {
		r.add(OK, StepIdentity, fmt.Sprintf("the server knows you as %q, groups %v", u.Username, u.Groups), "")
		return &u, true
	}
	// Seed 000: a certificate's CN is the user name. A CN other than the
	// kubeconfig's user name is legitimate, or the reason nothing works:
	// tell which by whether the server grants the CN anything.
	if hasGrants(ctx, c, k.namespace) {
		r.add(Warn, StepIdentity, fmt.Sprintf("the server knows you as %q (the certificate's CN), not as %q, the kubeconfig's user name; RBAC bindings must name %q", u.Username, k.userName, u.Username),
			"nothing to do if that is intended; else make the certificate again with -subj "+shellQuote("/CN="+k.userName))
		return &u, true
	}
	r.add(Fail, StepIdentity, fmt.Sprintf("the server knows you as %q, the certificate's CN, not as %q, the kubeconfig's user name, and grants %q nothing in namespace %q: the certificate's CN is not the user name RBAC expects", u.Username, k.userName, u.Username, k.namespace),
		fmt.Sprintf("make the certificate again with the user name as CN: openssl req -new -key %s -out %s.csr -subj %s, then have it signed as before (seed 000); or bind the role to %s: kubectl create rolebinding NAME --role ROLE --user %s -n %s",
			shellQuote(orDefault(k.user.ClientKey, "USER.key")), shellQuote(k.userName), shellQuote("/CN="+k.userName), shellQuote(u.Username), shellQuote(u.Username), k.namespace))
	// What the identity may do is still worth checking.
	return &u, true
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// hasGrants reports whether the user may do anything in namespace beyond
// what every authenticated user may (asking who they are and what they
// may do, and discovery).
func hasGrants(ctx context.Context, c *apiclient.Client, namespace string) bool {
	var out authorizationv1.SelfSubjectRulesReview
	in := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}}
	if err := c.Do(ctx, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", in, &out); err != nil {
		return true // cannot tell: do not claim there are none
	}
	for _, rule := range out.Status.ResourceRules {
		for _, res := range rule.Resources {
			switch res {
			case "selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews", "selfaccessreviews":
			default:
				return true
			}
		}
	}
	return false
}

// explainRefusal asks the server why it refused the credential (only the
// holder of the same credential, or an administrator, is told).
func explainRefusal(ctx context.Context, r *Report, c *apiclient.Client, k *kubeconfig, auditID string) {
	generic := func() {
		r.add(Fail, StepCredential, "the server refused the credential (401 Unauthorized) and does not say why to this client",
			adminLookup(auditID))
	}
	if auditID == "" {
		generic()
		return
	}
	var d struct {
		Reason  authn.FailureReason `json:"reason"`
		Message string              `json:"message"`
		Cause   string              `json:"cause"`
	}
	if err := c.Do(ctx, "GET", "/diagnose/authentication/"+auditID, nil, &d); err != nil || d.Message == "" {
		generic()
		return
	}
	detail := "the server refused the credential: " + d.Message
	if d.Cause != "" && d.Cause != d.Message {
		detail += " (" + d.Cause + ")"
	}
	r.add(Fail, StepCredential, detail, refusalFix(d.Reason, k, auditID))
}

// refusalFix says what to do about each reason the server gives.
func refusalFix(reason authn.FailureReason, k *kubeconfig, auditID string) string {
	user := shellQuote(k.userName)
	newToken := "get a new token (kubectl create token SERVICE_ACCOUNT -n NAMESPACE for a service account, sekisho token create for a bootstrap token, or from your identity provider), then: kubectl config set-credentials " + user + " --token NEW_TOKEN"
	switch reason {
	case authn.ReasonCertificateRevoked:
		return "the certificate was revoked and stays so: get a new one, from a new key (sekisho kubeconfig user --dir DIR --client-name USER, or a CertificateSigningRequest as in seed 000)"
	case authn.ReasonCertificateExpired, authn.ReasonCertificateNotYetValid:
		return "get a new certificate: sekisho kubeconfig user --dir DIR --client-name USER"
	case authn.ReasonCertificateUnknownCA:
		return "get a certificate from this cluster's CA: sekisho kubeconfig user --dir DIR --client-name USER"
	case authn.ReasonCertificateUsage:
		return "issue a client certificate (extendedKeyUsage=clientAuth)"
	case authn.ReasonCertificateEmptyCN:
		return emptyCNFix(k)
	case authn.ReasonClientCertificatesOff:
		return "the server was started without --client-ca-file: use a token, or start it with the cluster CA"
	case authn.ReasonTokenUnknown, authn.ReasonTokenInvalid, authn.ReasonTokenExpired, authn.ReasonTokenNotForAuthn:
		return newToken
	case authn.ReasonTokenAudience:
		return "request a token for the API server's audience (kubectl create token SERVICE_ACCOUNT without --audience)"
	case authn.ReasonServiceAccountGone:
		ns, name := "NAMESPACE", "NAME"
		if rest, ok := strings.CutPrefix(k.tokenSubject, "system:serviceaccount:"); ok {
			if n, a, ok := strings.Cut(rest, ":"); ok {
				ns, name = n, a
			}
		}
		return fmt.Sprintf("the service account was deleted (or deleted and made again): an administrator makes it again and gives you a new token: kubectl create serviceaccount %s -n %s && kubectl create token %s -n %s",
			shellQuote(name), shellQuote(ns), shellQuote(name), shellQuote(ns))
	case authn.ReasonBoundObjectGone:
		return "the token was bound to a pod or Secret that is gone: " + newToken
	case authn.ReasonTokenClaimsRejected:
		return "log in to your identity provider again; if that does not help, " + adminLookup(auditID)
	case authn.ReasonWebhookError:
		return "the server could not ask its token webhook: " + adminLookup(auditID)
	}
	return adminLookup(auditID)
}

// adminLookup tells how an administrator reads a refusal's precise cause.
func adminLookup(auditID string) string {
	if auditID == "" {
		return "an administrator can read the cause in the server log"
	}
	return "an administrator can read the precise cause for 15 minutes: kubectl get --raw /diagnose/authentication/" + auditID + " (or in the server log, next to that Audit-Id)"
}
