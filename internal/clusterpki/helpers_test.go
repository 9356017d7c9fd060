package clusterpki

import (
	"net"
	"time"

	"github.com/sekisho/sekisho/internal/pki"
)

// testNow is a fixed clock so generated validity periods are reproducible.
var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func testOptions(dir string) InitOptions {
	return InitOptions{
		Dir: dir,
		Cluster: pki.ClusterConfig{
			NodeName:         "cp-1",
			AdvertiseAddress: net.ParseIP("192.0.2.10"),
			BindPort:         6443,
			ServiceCIDR:      "10.96.0.0/12",
			DNSDomain:        "cluster.local",
		},
		KeyType:      pki.ECDSAP256,
		CertValidity: 8760 * time.Hour,
		CAValidity:   87600 * time.Hour,
		Now:          testNow,
	}
}
