// Package kubeconfig renders and reads the kubeconfig files sekisho writes:
// one cluster, one user with an embedded client certificate (or a token),
// and one context joining them.
package kubeconfig

import (
	"errors"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Spec is the content of a single-context kubeconfig.
type Spec struct {
	ClusterName string
	UserName    string
	Server      string
	CAPEM       []byte
	CertPEM     []byte
	KeyPEM      []byte
	Token       string
}

// ContextName is the context a Spec's kubeconfig selects: user@cluster, as kubeadm names it.
func (s Spec) ContextName() string {
	return s.UserName + "@" + s.ClusterName
}

// Render returns the kubeconfig YAML for s.
func Render(s Spec) ([]byte, error) {
	if s.ClusterName == "" || s.UserName == "" || s.Server == "" {
		return nil, errors.New("kubeconfig: cluster name, user name and server are required")
	}
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = s.Server
	cluster.CertificateAuthorityData = s.CAPEM
	cfg.Clusters[s.ClusterName] = cluster

	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificateData = s.CertPEM
	user.ClientKeyData = s.KeyPEM
	user.Token = s.Token
	cfg.AuthInfos[s.UserName] = user

	ctx := clientcmdapi.NewContext()
	ctx.Cluster = s.ClusterName
	ctx.AuthInfo = s.UserName
	cfg.Contexts[s.ContextName()] = ctx
	cfg.CurrentContext = s.ContextName()
	return clientcmd.Write(*cfg)
}

// Parse reads a kubeconfig and returns the cluster and user of its current
// context. Only embedded credentials are returned; file references are
// resolved relative to nothing and so are reported as missing data.
func Parse(data []byte) (Spec, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return Spec{}, fmt.Errorf("not a valid kubeconfig: %w", err)
	}
	return current(cfg)
}

// LoadFile reads a kubeconfig file, resolving file references relative to it.
func LoadFile(path string) (Spec, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return Spec{}, err
	}
	if err := clientcmdapi.FlattenConfig(cfg); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	s, err := current(cfg)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func current(cfg *clientcmdapi.Config) (Spec, error) {
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return Spec{}, fmt.Errorf("current-context %q is not defined", cfg.CurrentContext)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok {
		return Spec{}, fmt.Errorf("context %q names cluster %q, which is not defined", cfg.CurrentContext, ctx.Cluster)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok {
		return Spec{}, fmt.Errorf("context %q names user %q, which is not defined", cfg.CurrentContext, ctx.AuthInfo)
	}
	return Spec{
		ClusterName: ctx.Cluster,
		UserName:    ctx.AuthInfo,
		Server:      cluster.Server,
		CAPEM:       cluster.CertificateAuthorityData,
		CertPEM:     user.ClientCertificateData,
		KeyPEM:      user.ClientKeyData,
		Token:       user.Token,
	}, nil
}

// SetClientCertificate replaces the client certificate and key of the
// current context's user in an existing kubeconfig, keeping everything else.
func SetClientCertificate(data, certPEM, keyPEM []byte) ([]byte, error) {
	return editCurrent(data, func(_ *clientcmdapi.Cluster, user *clientcmdapi.AuthInfo) {
		user.ClientCertificate, user.ClientKey = "", ""
		user.ClientCertificateData, user.ClientKeyData = certPEM, keyPEM
	})
}

// SetCertificateAuthority replaces the CA bundle of the current context's
// cluster in an existing kubeconfig, keeping everything else.
func SetCertificateAuthority(data, caPEM []byte) ([]byte, error) {
	return editCurrent(data, func(cluster *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
		cluster.CertificateAuthority = ""
		cluster.CertificateAuthorityData = caPEM
	})
}

// editCurrent applies edit to the current context's cluster and user.
func editCurrent(data []byte, edit func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo)) ([]byte, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("not a valid kubeconfig: %w", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("current-context %q is not defined", cfg.CurrentContext)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok {
		return nil, fmt.Errorf("context %q names user %q, which is not defined", cfg.CurrentContext, ctx.AuthInfo)
	}
	cluster, ok := cfg.Clusters[ctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which is not defined", cfg.CurrentContext, ctx.Cluster)
	}
	edit(cluster, user)
	return clientcmd.Write(*cfg)
}
