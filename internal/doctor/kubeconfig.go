package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfig is what doctor learned of the kubeconfig.
type kubeconfig struct {
	path     string // the file, when there is one
	context  string
	cluster  string
	userName string // the user entry's name
	user     *clientcmdapi.AuthInfo
	// cfg is the client configuration: with the user's credentials when
	// they are usable, else the cluster's part only.
	cfg       *rest.Config
	namespace string
	loader    clientcmd.ClientConfig
	// tokenSubject is the sub claim of a JWT the user presents.
	tokenSubject string
}

func (k *kubeconfig) usesCertificate() bool { return len(k.cfg.CertData) > 0 }

// defaultDataDir is where `sekisho up` keeps its files.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sekisho")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "sekisho")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// loadKubeconfig finds and reads the kubeconfig and its current context,
// with kubectl's rules.
func loadKubeconfig(r *Report, o Options) (*kubeconfig, bool) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules.ExplicitPath = o.Kubeconfig
		if !fileExists(o.Kubeconfig) {
			r.add(Fail, StepKubeconfig, fmt.Sprintf("the kubeconfig %s does not exist", o.Kubeconfig), noKubeconfigFix(o))
			return nil, false
		}
	} else if !slicesAny(rules.GetLoadingPrecedence(), fileExists) {
		where := "$KUBECONFIG is not set"
		if v := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
			where = fmt.Sprintf("$KUBECONFIG (%s) names no file that exists", v)
		}
		r.add(Fail, StepKubeconfig, fmt.Sprintf("no kubeconfig: --kubeconfig is not given, %s, and %s does not exist", where, clientcmd.RecommendedHomeFile),
			noKubeconfigFix(o))
		return nil, false
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context})
	raw, err := loader.RawConfig()
	if err != nil {
		r.add(Fail, StepKubeconfig, err.Error(), "fix the file, or point --kubeconfig (or $KUBECONFIG) at a valid kubeconfig")
		return nil, false
	}
	k := &kubeconfig{path: o.Kubeconfig, context: o.Context}
	if k.path == "" && len(rules.GetLoadingPrecedence()) > 0 {
		for _, p := range rules.GetLoadingPrecedence() {
			if fileExists(p) {
				k.path = p
				break
			}
		}
	}
	if k.context == "" {
		k.context = raw.CurrentContext
	}
	kctx := raw.Contexts[k.context]
	switch {
	case k.context == "":
		r.add(Fail, StepKubeconfig, "the kubeconfig selects no context (current-context is empty)", "kubectl config use-context NAME (kubectl config get-contexts lists them)")
		return nil, false
	case kctx == nil:
		r.add(Fail, StepKubeconfig, fmt.Sprintf("the context %q is not defined", k.context), "kubectl config use-context NAME (kubectl config get-contexts lists them)")
		return nil, false
	}
	k.cluster, k.userName, k.namespace = kctx.Cluster, kctx.AuthInfo, kctx.Namespace
	if k.namespace == "" {
		k.namespace = "default"
	}
	cluster := raw.Clusters[k.cluster]
	if cluster == nil {
		r.add(Fail, StepKubeconfig, fmt.Sprintf("the context %q names the cluster %q, which is not defined", k.context, k.cluster),
			"kubectl config set-context "+shellQuote(k.context)+" --cluster NAME (kubectl config get-clusters lists them)")
		return nil, false
	}
	if k.user = raw.AuthInfos[k.userName]; k.user == nil {
		r.add(Fail, StepKubeconfig, fmt.Sprintf("the context %q names the user %q, which is not defined", k.context, k.userName),
			"kubectl config set-context "+shellQuote(k.context)+" --user NAME (kubectl config view lists the users)")
		return nil, false
	}
	// The cluster's part alone, for the server checks; the user's part is
	// added once its credential sources check out.
	k.cfg = &rest.Config{Host: cluster.Server, TLSClientConfig: rest.TLSClientConfig{
		CAFile: cluster.CertificateAuthority, CAData: cluster.CertificateAuthorityData,
		ServerName: cluster.TLSServerName, Insecure: cluster.InsecureSkipTLSVerify,
	}}
	if cluster.CertificateAuthority != "" && len(cluster.CertificateAuthorityData) == 0 {
		data, err := os.ReadFile(cluster.CertificateAuthority)
		if err != nil {
			r.add(Fail, StepKubeconfig, fmt.Sprintf("the cluster's certificate-authority %s cannot be read: %v", cluster.CertificateAuthority, err),
				"kubectl config set-cluster "+shellQuote(k.cluster)+" --certificate-authority PATH/ca.crt --embed-certs")
			return nil, false
		}
		k.cfg.CAData = data
	}
	r.add(OK, StepKubeconfig, fmt.Sprintf("context %q: cluster %q at %s, user %q", k.context, k.cluster, cluster.Server, k.userName), "")
	k.loader = loader
	return k, true
}

func slicesAny(xs []string, f func(string) bool) bool {
	for _, x := range xs {
		if f(x) {
			return true
		}
	}
	return false
}

func noKubeconfigFix(o Options) string {
	dir := o.DataDir
	if dir == "" {
		dir = defaultDataDir()
	}
	if admin := filepath.Join(dir, "admin.conf"); dir != "" && fileExists(admin) {
		return "use the one sekisho up wrote: export KUBECONFIG=" + admin + " (or pass --kubeconfig " + admin + ")"
	}
	return "run sekisho up, which writes DATA_DIR/admin.conf and prints its path, then export KUBECONFIG=that file (or pass --kubeconfig)"
}

// checkCredentialSources checks what the user entry names before anything
// is sent: an exec plugin that must be installed and speak a version
// kubectl accepts, an auth provider kubectl still has, and files that must
// exist. It then loads the user's part into k.cfg.
func checkCredentialSources(r *Report, k *kubeconfig, o Options) bool {
	u, name := k.user, shellQuote(k.userName)
	ok := true
	if ap := u.AuthProvider; ap != nil {
		r.add(Fail, StepCredential, fmt.Sprintf("the user %q uses the auth-provider %q, which kubectl no longer has (the in-tree providers were removed in 1.26): kubectl fails before it sends a request", k.userName, ap.Name),
			authProviderFix(k.userName, ap))
		ok = false
	}
	if e := u.Exec; e != nil {
		switch e.APIVersion {
		case "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1":
		case "client.authentication.k8s.io/v1alpha1":
			r.add(Fail, StepCredential, fmt.Sprintf("the user %q runs the exec plugin %q as client.authentication.k8s.io/v1alpha1, which kubectl no longer accepts (removed in 1.24)", k.userName, e.Command),
				"kubectl config set-credentials "+name+" --exec-api-version=client.authentication.k8s.io/v1")
			ok = false
		default:
			r.add(Fail, StepCredential, fmt.Sprintf("the user %q runs the exec plugin %q with apiVersion %q, which kubectl does not know", k.userName, e.Command, e.APIVersion),
				"kubectl config set-credentials "+name+" --exec-api-version=client.authentication.k8s.io/v1")
			ok = false
		}
		if _, err := o.LookPath(e.Command); err != nil {
			what := fmt.Sprintf("the exec credential plugin %q is not installed: no such command on PATH", e.Command)
			if strings.Contains(e.Command, "/") {
				what = fmt.Sprintf("the exec credential plugin %s does not exist or cannot be run", e.Command)
			}
			r.add(Fail, StepCredential, fmt.Sprintf("the user %q gets its credential from a plugin, and %s", k.userName, what),
				execInstallHint(e.Command)+", or point the kubeconfig at it: kubectl config set-credentials "+name+" --exec-command=/FULL/PATH/"+filepath.Base(e.Command))
			ok = false
		}
	}
	checkFile := func(what, path, field string) {
		if path == "" {
			return
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			r.add(Fail, StepCredential, fmt.Sprintf("the user %q reads its %s from %s, which does not exist", k.userName, what, path),
				"put the file there, or point the kubeconfig at it: kubectl config set users."+name+"."+field+" PATH")
			ok = false
		}
	}
	checkFile("client certificate", u.ClientCertificate, "client-certificate")
	checkFile("client key", u.ClientKey, "client-key")
	checkFile("token", u.TokenFile, "tokenFile")
	if !ok {
		return false
	}
	if !hasAny(u.Token, u.TokenFile, u.ClientCertificate, u.Username) && len(u.ClientCertificateData) == 0 && u.Exec == nil {
		r.add(Fail, StepCredential, fmt.Sprintf("the user %q has no credential: neither a client certificate nor a token", k.userName),
			"add one: kubectl config set-credentials "+name+" --client-certificate USER.crt --client-key USER.key --embed-certs (or --token TOKEN)")
		return false
	}
	cfg, err := k.loader.ClientConfig()
	if err == nil {
		// Read the files the kubeconfig names, so that the certificate
		// can be inspected whether it is embedded or not.
		err = rest.LoadTLSFiles(cfg)
	}
	if err != nil {
		r.add(Fail, StepCredential, err.Error(), "fix the user entry: kubectl config view shows it")
		return false
	}
	k.cfg = cfg
	return true
}

func authProviderFix(user string, ap *clientcmdapi.AuthProviderConfig) string {
	name := shellQuote(user)
	switch ap.Name {
	case "oidc":
		issuer, client := ap.Config["idp-issuer-url"], ap.Config["client-id"]
		if issuer == "" {
			issuer = "ISSUER_URL"
		}
		if client == "" {
			client = "CLIENT_ID"
		}
		return "use the kubelogin exec plugin (kubectl krew install oidc-login), then: kubectl config set-credentials " + name +
			" --exec-api-version=client.authentication.k8s.io/v1 --exec-command=kubectl --exec-arg=oidc-login --exec-arg=get-token" +
			" --exec-arg=--oidc-issuer-url=" + issuer + " --exec-arg=--oidc-client-id=" + client
	case "gcp":
		return "install gke-gcloud-auth-plugin and run: gcloud container clusters get-credentials CLUSTER"
	case "azure":
		return "install kubelogin (Azure) and run: kubelogin convert-kubeconfig"
	}
	return "replace it with an exec credential plugin for your identity provider"
}

func execInstallHint(command string) string {
	base := filepath.Base(command)
	switch {
	case strings.Contains(base, "kubelogin") || base == "kubectl-oidc_login":
		return "install kubelogin (kubectl krew install oidc-login, or https://github.com/int128/kubelogin)"
	case strings.Contains(base, "gke-gcloud-auth-plugin"):
		return "install it: gcloud components install gke-gcloud-auth-plugin"
	case base == "aws" || strings.Contains(base, "aws-iam-authenticator"):
		return "install the AWS CLI or aws-iam-authenticator"
	}
	return "install " + base
}
