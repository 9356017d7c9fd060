package clusterpki

import (
	"testing"

	"github.com/sekisho/sekisho/internal/pki"
)

// BenchmarkInit measures a full `certs init` into an empty directory: 3 CAs,
// 7 leaves, 5 kubeconfigs and the service-account key, written with fsync.
func BenchmarkInit(b *testing.B) {
	for _, kt := range []pki.KeyType{pki.ECDSAP256, pki.RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				o := testOptions(b.TempDir())
				o.KeyType = kt
				if _, err := Init(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
