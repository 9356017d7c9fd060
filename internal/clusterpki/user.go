package clusterpki

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

// UserOptions configure UserKubeconfig.
type UserOptions struct {
	Dir        string
	ClientName string
	Orgs       []string
	Validity   time.Duration
	// Server defaults to the server of admin.conf in Dir.
	Server string
	// AllowSystemMasters permits O=system:masters, which bypasses all
	// authorization: RBAC cannot take its rights away, only revoking the
	// certificate or replacing the CA can.
	AllowSystemMasters bool
	KeyType            pki.KeyType
	Now                time.Time
}

// UserKubeconfig issues a client certificate for a user from the cluster CA
// and returns a kubeconfig that embeds it.
func UserKubeconfig(o UserOptions) ([]byte, error) {
	var errs []error
	if strings.TrimSpace(o.ClientName) == "" {
		errs = append(errs, errors.New("--client-name: must not be empty"))
	}
	if slices.Contains(o.Orgs, pki.GroupSystemMasters) && !o.AllowSystemMasters {
		errs = append(errs, fmt.Errorf("--org %s: this group bypasses all authorization, so no RBAC change can ever take its rights away: "+
			"only revoking the certificate (sekisho certs revoke) or replacing the CA ends it; "+
			"bind a role instead, or pass --allow-system-masters for a break-glass credential", pki.GroupSystemMasters))
	}
	for _, org := range o.Orgs {
		if strings.TrimSpace(org) == "" {
			errs = append(errs, errors.New("--org: must not be empty"))
		}
	}
	if o.Validity <= 0 {
		errs = append(errs, fmt.Errorf("--validity: must be positive, got %s", o.Validity))
	}
	if _, err := pki.ParseKeyType(string(o.KeyType)); err != nil {
		errs = append(errs, fmt.Errorf("--key-type: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	l := Layout{Dir: o.Dir}
	spec, _ := pki.CASpecByName(pki.CAKubernetes)
	ca, err := l.loadCA(spec)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		return nil, fmt.Errorf("%s does not exist; run `sekisho certs init --dir %s` first", l.Path(CertFile(spec.BaseName)), o.Dir)
	}
	if ca.Key == nil {
		return nil, fmt.Errorf("cannot sign: CA %q is externally managed (%s is not present)", pki.CAKubernetes, l.Path(KeyFile(spec.BaseName)))
	}
	server := o.Server
	if server == "" {
		admin, err := kubeconfig.LoadFile(l.Path("admin.conf"))
		if err != nil {
			return nil, fmt.Errorf("--server not given and cannot take it from admin.conf: %v", err)
		}
		server = admin.Server
	}
	if !strings.HasPrefix(server, "https://") {
		return nil, fmt.Errorf("--server %q: must be an https:// URL", server)
	}

	key, err := o.KeyType.GenerateKey()
	if err != nil {
		return nil, err
	}
	t := pki.Template{CommonName: o.ClientName, Organizations: o.Orgs, Kind: pki.KindClient}
	cert, err := ca.Issue(t.ValidFor(o.Now, o.Validity), key.Public())
	if err != nil {
		return nil, validityError(err, "--validity", o.Validity)
	}
	return renderKubeconfig(pki.KubeconfigSpec{UserName: o.ClientName}, server, ca, cert, key)
}
