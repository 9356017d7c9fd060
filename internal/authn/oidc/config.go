// Package oidc authenticates JSON Web Tokens from OpenID Connect issuers,
// configured either by kube-apiserver's --oidc-* flags or by an
// AuthenticationConfiguration file with several issuers, claim validation
// rules and CEL claim mappings.
package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/cel-go/cel"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Flags are kube-apiserver's legacy single-issuer settings.
type Flags struct {
	IssuerURL      string
	ClientID       string
	CAFile         string
	UsernameClaim  string
	UsernamePrefix string // "" means Kubernetes' default; "-" means none
	GroupsClaim    string
	GroupsPrefix   string
	RequiredClaims map[string]string
	SigningAlgs    []string
}

// allowedAlgorithms are the asymmetric JWS algorithms; "none" and the HMAC
// family are never accepted, since an issuer's public key must never be
// usable as a shared secret.
var allowedAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// mapping turns claims into one user attribute.
type mapping struct {
	claim  string
	prefix string
	expr   *expression
}

type claimRule struct {
	claim, required string
	expr            *expression
	message         string
}

type extraMapping struct {
	key  string
	expr *expression
}

// issuerConfig is one compiled JWT authenticator.
type issuerConfig struct {
	issuer    string
	audiences []string
	algs      []jose.SignatureAlgorithm
	keys      *keySet

	claimRules      []claimRule
	username        mapping
	groups          mapping
	uid             mapping
	extra           []extraMapping
	userRules       []claimRule
	usernameIsEmail bool
}

// FromFlags compiles the legacy flags into one issuer configuration.
func FromFlags(f Flags) ([]*issuerConfig, error) {
	var errs []error
	u, err := url.Parse(f.IssuerURL)
	if err != nil || u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("--oidc-issuer-url %q: must be an https:// URL", f.IssuerURL))
	}
	if f.ClientID == "" {
		errs = append(errs, errors.New("--oidc-client-id is required with --oidc-issuer-url"))
	}
	claim := f.UsernameClaim
	if claim == "" {
		claim = "sub"
	}
	prefix := f.UsernamePrefix
	switch {
	case prefix == "-":
		prefix = ""
	case prefix == "" && claim != "email":
		// Kubernetes' default keeps users of different issuers apart.
		prefix = f.IssuerURL + "#"
	}
	algs, err := parseAlgorithms(f.SigningAlgs)
	if err != nil {
		errs = append(errs, fmt.Errorf("--oidc-signing-algs: %w", err))
	}
	var ca []byte
	if f.CAFile != "" {
		if ca, err = os.ReadFile(f.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("--oidc-ca-file: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	keys, err := newKeySet(f.IssuerURL, "", ca)
	if err != nil {
		return nil, fmt.Errorf("--oidc-ca-file: %w", err)
	}
	c := &issuerConfig{
		issuer: f.IssuerURL, audiences: []string{f.ClientID}, algs: algs, keys: keys,
		username:        mapping{claim: claim, prefix: prefix},
		groups:          mapping{claim: f.GroupsClaim, prefix: f.GroupsPrefix},
		usernameIsEmail: claim == "email",
	}
	for k, v := range f.RequiredClaims {
		c.claimRules = append(c.claimRules, claimRule{claim: k, required: v})
	}
	return []*issuerConfig{c}, nil
}

func parseAlgorithms(names []string) ([]jose.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}, nil
	}
	var out []jose.SignatureAlgorithm
	for _, n := range names {
		alg := jose.SignatureAlgorithm(n)
		if !slices.Contains(allowedAlgorithms, alg) {
			return nil, fmt.Errorf("%q is not an accepted algorithm (want asymmetric ones such as RS256 or ES256; none and HMAC are refused)", n)
		}
		out = append(out, alg)
	}
	return out, nil
}

// ParseConfig reads an AuthenticationConfiguration (apiserver.config.k8s.io
// v1 or v1beta1), rejecting unknown fields, and compiles every JWT
// authenticator. All problems are reported at once with their field paths.
func ParseConfig(data []byte) ([]*issuerConfig, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	var cfg apiserverv1.AuthenticationConfiguration
	strict, err := sjson.UnmarshalStrict(j, &cfg, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("malformed configuration: %v", err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("strict decoding error: %v", errors.Join(strict...))
	}
	switch cfg.APIVersion {
	case "apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1":
	default:
		return nil, fmt.Errorf("apiVersion %q: want apiserver.config.k8s.io/v1 or v1beta1", cfg.APIVersion)
	}
	if cfg.Kind != "AuthenticationConfiguration" {
		return nil, fmt.Errorf("kind %q: want AuthenticationConfiguration", cfg.Kind)
	}
	var errs field.ErrorList
	var out []*issuerConfig
	seen := map[string]bool{}
	for i, a := range cfg.JWT {
		p := field.NewPath("jwt").Index(i)
		c, es := compileIssuer(a, p)
		errs = append(errs, es...)
		if c != nil {
			if seen[c.issuer] {
				errs = append(errs, field.Duplicate(p.Child("issuer", "url"), c.issuer))
			}
			seen[c.issuer] = true
			out = append(out, c)
		}
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

func compileIssuer(a apiserverv1.JWTAuthenticator, p *field.Path) (*issuerConfig, field.ErrorList) {
	var errs field.ErrorList
	ip := p.Child("issuer")
	if u, err := url.Parse(a.Issuer.URL); err != nil || u.Scheme != "https" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, field.Invalid(ip.Child("url"), a.Issuer.URL, "must be an https URL without query or fragment"))
	}
	discovery := ""
	if a.Issuer.DiscoveryURL != nil {
		discovery = *a.Issuer.DiscoveryURL
		if u, err := url.Parse(discovery); err != nil || u.Scheme != "https" {
			errs = append(errs, field.Invalid(ip.Child("discoveryURL"), discovery, "must be an https URL"))
		}
	}
	if len(a.Issuer.Audiences) == 0 {
		errs = append(errs, field.Required(ip.Child("audiences"), "at least one audience"))
	}
	if len(a.Issuer.Audiences) > 1 && a.Issuer.AudienceMatchPolicy != apiserverv1.AudienceMatchPolicyMatchAny {
		errs = append(errs, field.Invalid(ip.Child("audienceMatchPolicy"), a.Issuer.AudienceMatchPolicy, "must be MatchAny for multiple audiences"))
	}
	c := &issuerConfig{issuer: a.Issuer.URL, audiences: a.Issuer.Audiences, algs: allowedAlgorithms}
	keys, err := newKeySet(a.Issuer.URL, discovery, []byte(a.Issuer.CertificateAuthority))
	if err != nil {
		errs = append(errs, field.Invalid(ip.Child("certificateAuthority"), "", err.Error()))
	}
	c.keys = keys

	compileExpr := func(env *cel.Env, src string, fp *field.Path) *expression {
		e, err := compile(env, src)
		if err != nil {
			errs = append(errs, field.Invalid(fp, src, err.Error()))
		}
		return e
	}
	for i, r := range a.ClaimValidationRules {
		rp := p.Child("claimValidationRules").Index(i)
		switch {
		case r.Claim != "" && r.Expression != "":
			errs = append(errs, field.Invalid(rp, r.Claim, "claim and expression are mutually exclusive"))
		case r.Claim != "":
			c.claimRules = append(c.claimRules, claimRule{claim: r.Claim, required: r.RequiredValue})
		case r.Expression != "":
			c.claimRules = append(c.claimRules, claimRule{expr: compileExpr(claimsEnv, r.Expression, rp.Child("expression")), message: r.Message})
		default:
			errs = append(errs, field.Required(rp, "claim or expression"))
		}
	}
	mp := p.Child("claimMappings")
	prefixed := func(m apiserverv1.PrefixedClaimOrExpression, fp *field.Path, required bool) mapping {
		var out mapping
		switch {
		case m.Claim != "" && m.Expression != "":
			errs = append(errs, field.Invalid(fp, m.Claim, "claim and expression are mutually exclusive"))
		case m.Claim != "":
			if m.Prefix == nil {
				errs = append(errs, field.Required(fp.Child("prefix"), "prefix is required with claim (it may be \"\")"))
			} else {
				out.prefix = *m.Prefix
			}
			out.claim = m.Claim
		case m.Expression != "":
			if m.Prefix != nil {
				errs = append(errs, field.Invalid(fp.Child("prefix"), *m.Prefix, "prefix cannot be used with expression"))
			}
			out.expr = compileExpr(claimsEnv, m.Expression, fp.Child("expression"))
		case required:
			errs = append(errs, field.Required(fp, "claim or expression"))
		}
		return out
	}
	c.username = prefixed(a.ClaimMappings.Username, mp.Child("username"), false)
	if c.username.claim == "" && c.username.expr == nil {
		c.username = mapping{claim: "sub", prefix: a.Issuer.URL + "#"}
	}
	c.usernameIsEmail = c.username.claim == "email"
	c.groups = prefixed(a.ClaimMappings.Groups, mp.Child("groups"), false)
	switch u := a.ClaimMappings.UID; {
	case u.Claim != "" && u.Expression != "":
		errs = append(errs, field.Invalid(mp.Child("uid"), u.Claim, "claim and expression are mutually exclusive"))
	case u.Expression != "":
		c.uid.expr = compileExpr(claimsEnv, u.Expression, mp.Child("uid", "expression"))
	default:
		c.uid.claim = u.Claim
	}
	for i, x := range a.ClaimMappings.Extra {
		xp := mp.Child("extra").Index(i)
		if x.Key == "" || strings.ToLower(x.Key) != x.Key || !strings.Contains(x.Key, "/") {
			errs = append(errs, field.Invalid(xp.Child("key"), x.Key, "must be a lower-case domain-prefixed path, such as example.org/team"))
		}
		c.extra = append(c.extra, extraMapping{key: x.Key, expr: compileExpr(claimsEnv, x.ValueExpression, xp.Child("valueExpression"))})
	}
	for i, r := range a.UserValidationRules {
		rp := p.Child("userValidationRules").Index(i)
		c.userRules = append(c.userRules, claimRule{expr: compileExpr(userEnv, r.Expression, rp.Child("expression")), message: r.Message})
	}
	return c, errs
}
