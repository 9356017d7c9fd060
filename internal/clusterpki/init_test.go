package clusterpki

import (
	"bytes"
	"crypto/x509"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/kubeconfig"
	"github.com/sekisho/sekisho/internal/pki"
)

var update = flag.Bool("update", false, "rewrite golden files")

// describeTree renders every file under dir with its mode and, for
// certificates, keys and kubeconfigs, the facts that do not vary between
// runs: subjects, issuers, usages, SANs and validity.
func describeTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s\n", info.Mode(), rel)
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(rel, ".crt"):
			certs, err := pki.ParseCertificates(data)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			for _, c := range certs {
				b.WriteString(describeCert(c))
			}
		case strings.HasSuffix(rel, ".key"):
			key, err := pki.ParsePrivateKey(data)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			fmt.Fprintf(&b, "    key %s\n", pki.KeyTypeOf(key.Public()))
		case strings.HasSuffix(rel, ".pub"):
			keys, err := pki.ParsePublicKeys(data)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			fmt.Fprintf(&b, "    public key %s\n", pki.KeyTypeOf(keys[0]))
		case strings.HasSuffix(rel, ".conf"):
			kc, err := kubeconfig.Parse(data)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			fmt.Fprintf(&b, "    cluster %s server %s user %s context %s\n", kc.ClusterName, kc.Server, kc.UserName, kc.ContextName())
			certs, err := pki.ParseCertificates(kc.CertPEM)
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			b.WriteString(describeCert(certs[0]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func describeCert(c *x509.Certificate) string {
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	return fmt.Sprintf("    CN=%s O=%v issuer=%s kind=%s dns=%v ip=%v valid=%s..%s\n",
		c.Subject.CommonName, c.Subject.Organization, c.Issuer.CommonName, pki.KindOf(c),
		c.DNSNames, ips, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; run go test -update and review the diff\n--- got ---\n%s", name, got)
	}
}

func TestInitLayoutGolden(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.Cluster.ExtraSANs = []string{"api.example.com", "203.0.113.7"}
	o.Cluster.ControlPlaneEndpoint = "lb.example.com:7443"
	rep, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 27 || len(rep.Kept) != 0 {
		t.Errorf("wrote %d files and kept %d, want 27 and 0", len(rep.Written), len(rep.Kept))
	}
	golden(t, "layout.golden", describeTree(t, dir))
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func sameSnapshot(t *testing.T, before, after map[string][]byte) {
	t.Helper()
	for p, data := range after {
		old, ok := before[p]
		if !ok {
			t.Errorf("%s appeared", p)
		} else if !bytes.Equal(old, data) {
			t.Errorf("%s changed", p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s disappeared", p)
		}
	}
}

func TestInitIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	o := testOptions(dir)
	o.Now = testNow.Add(time.Hour)
	rep, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 0 || len(rep.Kept) != 27 {
		t.Errorf("second run wrote %v and kept %d files", rep.Written, len(rep.Kept))
	}
	sameSnapshot(t, before, snapshot(t, dir))
}

func TestInitFillsInMissingFilesFromExistingCAs(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	caBefore, _ := os.ReadFile(filepath.Join(dir, "pki/ca.key"))
	for _, f := range []string{"pki/apiserver.crt", "pki/apiserver.key", "admin.conf", "pki/sa.pub"} {
		os.Remove(filepath.Join(dir, f))
	}
	rep, err := Init(testOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rep.Written)
	if want := []string{"admin.conf", "pki/apiserver.crt", "pki/apiserver.key", "pki/sa.pub"}; !slices.Equal(rep.Written, want) {
		t.Errorf("wrote %v, want %v", rep.Written, want)
	}
	caAfter, _ := os.ReadFile(filepath.Join(dir, "pki/ca.key"))
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("CA key changed")
	}
	// A key without its certificate is kept and certified, not replaced.
	keyBefore, _ := os.ReadFile(filepath.Join(dir, "pki/front-proxy-client.key"))
	os.Remove(filepath.Join(dir, "pki/front-proxy-client.crt"))
	if _, err := Init(testOptions(dir)); err != nil {
		t.Fatal(err)
	}
	keyAfter, _ := os.ReadFile(filepath.Join(dir, "pki/front-proxy-client.key"))
	if !bytes.Equal(keyBefore, keyAfter) {
		t.Error("existing key was replaced")
	}
}

// TestInitDetectsMisfits checks that each kind of misfit is named, and that
// nothing is written when one is found.
func TestInitDetectsMisfits(t *testing.T) {
	other := t.TempDir()
	if _, err := Init(testOptions(other)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mangle func(t *testing.T, dir string)
		opts   func(o *InitOptions)
		want   string
	}{
		{
			name: "missing SAN",
			opts: func(o *InitOptions) { o.Cluster.ExtraSANs = []string{"new.example.com"} },
			want: "apiserver.crt: is missing SAN DNS:new.example.com",
		},
		{
			name: "cert and key mismatch",
			mangle: func(t *testing.T, dir string) {
				copyFile(t, filepath.Join(dir, "pki/apiserver-kubelet-client.key"), filepath.Join(dir, "pki/apiserver.key"))
			},
			want: "apiserver.crt: certificate does not match private key",
		},
		{
			name: "leaf from another CA",
			mangle: func(t *testing.T, dir string) {
				for _, f := range []string{"pki/front-proxy-client.crt", "pki/front-proxy-client.key"} {
					copyFile(t, filepath.Join(other, f), filepath.Join(dir, f))
				}
			},
			want: "front-proxy-client.crt: is not signed by CA",
		},
		{
			name: "kubeconfig from another cluster",
			mangle: func(t *testing.T, dir string) {
				copyFile(t, filepath.Join(other, "admin.conf"), filepath.Join(dir, "admin.conf"))
			},
			want: "admin.conf: certificate-authority-data is not the cluster CA",
		},
		{
			name: "kubeconfig points elsewhere",
			mangle: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "admin.conf")
				data, _ := os.ReadFile(path)
				writeFile(t, path, strings.Replace(string(data), "https://192.0.2.10:6443", "https://192.0.2.99:6443", 1))
			},
			want: `admin.conf: server is "https://192.0.2.99:6443", want "https://192.0.2.10:6443"`,
		},
		{
			name: "corrupt PEM",
			mangle: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "pki/etcd/peer.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
			},
			want: "etcd/peer.crt: invalid certificate",
		},
		{
			name:   "certificate without key",
			mangle: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "pki/etcd/server.key")) },
			want:   "etcd/server.crt: certificate exists without its private key",
		},
		{
			name:   "CA key without certificate",
			mangle: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "pki/front-proxy-ca.crt")) },
			want:   "front-proxy-ca.key: key exists without its certificate",
		},
		{
			name: "SA public key mismatch",
			mangle: func(t *testing.T, dir string) {
				copyFile(t, filepath.Join(other, "pki/sa.pub"), filepath.Join(dir, "pki/sa.pub"))
			},
			want: "sa.pub: no public key matches private key",
		},
		{
			name: "expired leaf",
			opts: func(o *InitOptions) { o.Now = testNow.Add(9000 * time.Hour) },
			want: "certificate expired at",
		},
		{
			name: "validity longer than the existing CA's",
			opts: func(o *InitOptions) {
				o.Now = testNow.Add(87000 * time.Hour)
				o.CertValidity = 8760 * time.Hour
			},
			mangle: func(t *testing.T, dir string) {
				for _, f := range []string{"pki/apiserver.crt", "pki/apiserver.key"} {
					os.Remove(filepath.Join(dir, f))
				}
				// Other leaves would be reported expired first; keep only the CAs.
				keepOnly(t, dir, "pki/ca.crt", "pki/ca.key", "pki/etcd/ca.crt", "pki/etcd/ca.key", "pki/front-proxy-ca.crt", "pki/front-proxy-ca.key")
			},
			want: "--cert-validity 8760h0m0s: certificate",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := Init(testOptions(dir)); err != nil {
				t.Fatal(err)
			}
			if c.mangle != nil {
				c.mangle(t, dir)
			}
			// Remove one file that a successful run would write, to prove a
			// failing run writes nothing at all.
			os.Remove(filepath.Join(dir, "scheduler.conf"))
			before := snapshot(t, dir)
			o := testOptions(dir)
			if c.opts != nil {
				c.opts(&o)
			}
			_, err := Init(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			sameSnapshot(t, before, snapshot(t, dir))
		})
	}
}

func TestInitRejectsBadOptions(t *testing.T) {
	cases := []struct {
		opts func(o *InitOptions)
		want string
	}{
		{func(o *InitOptions) { o.CertValidity = -time.Hour }, "--cert-validity: must be positive"},
		{func(o *InitOptions) { o.CAValidity = 0 }, "--ca-validity: must be positive"},
		{func(o *InitOptions) { o.CertValidity = 100000 * time.Hour }, "is longer than --ca-validity"},
		{func(o *InitOptions) { o.KeyType = "dsa" }, `--key-type: unknown key type "dsa"`},
		{func(o *InitOptions) { o.Cluster.ExtraSANs = []string{"under_score"} }, `--apiserver-cert-extra-sans: "under_score"`},
		{func(o *InitOptions) { o.Cluster.AdvertiseAddress = net.IPv4zero }, "--apiserver-advertise-address"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		o := testOptions(dir)
		c.opts(&o)
		if _, err := Init(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%q: bad options still wrote %d entries", c.want, len(entries))
		}
	}
	// A data dir below a regular file cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	if _, err := Init(testOptions(filepath.Join(file, "sub"))); err == nil || !strings.Contains(err.Error(), "cannot create directory") {
		t.Errorf("unwritable dir: %v", err)
	}
}

func TestIntermediateCAs(t *testing.T) {
	rootKey, _ := pki.ECDSAP256.GenerateKey()
	root, err := pki.NewSelfSignedCA("my-root", rootKey, testNow, 20*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := testOptions(dir)
	o.RootCA = root
	if _, err := Init(o); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	for _, base := range []string{"apiserver", "etcd/server", "front-proxy-client"} {
		data, _ := os.ReadFile(filepath.Join(dir, "pki", base+".crt"))
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) != 2 {
			t.Fatalf("%s: want leaf and intermediate, got %d certs", base, len(certs))
		}
		inter := x509.NewCertPool()
		inter.AddCert(certs[1])
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s does not verify to the root: %v", base, err)
		}
	}
	// Idempotent with the root, and a different root is refused.
	if _, err := Init(o); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	otherKey, _ := pki.ECDSAP256.GenerateKey()
	o.RootCA, _ = pki.NewSelfSignedCA("other-root", otherKey, testNow, 20*365*24*time.Hour)
	if _, err := Init(o); err == nil || !strings.Contains(err.Error(), "given by --root-ca-cert") {
		t.Errorf("CA from another root accepted: %v", err)
	}
	// A CA validity past the root's expiry is cut to end with the root,
	// with a warning. The common case: a 10-year root made just before,
	// and the 10-year default validity.
	for _, c := range []struct {
		rootValidity, caValidity time.Duration
	}{
		{20 * 365 * 24 * time.Hour, 30 * 365 * 24 * time.Hour},
		{10 * 365 * 24 * time.Hour, 10 * 365 * 24 * time.Hour},
	} {
		root, err := pki.NewSelfSignedCA("ten-year-root", rootKey, testNow.Add(-time.Second), c.rootValidity)
		if err != nil {
			t.Fatal(err)
		}
		dir2 := t.TempDir()
		o2 := testOptions(dir2)
		o2.RootCA, o2.CAValidity = root, c.caValidity
		rep, err := Init(o2)
		if err != nil {
			t.Fatalf("root %s, CA validity %s: %v", c.rootValidity, c.caValidity, err)
		}
		if len(rep.Warnings) != 3 || !strings.Contains(rep.Warnings[0], "it is cut to end with the root") {
			t.Errorf("warnings: %q", rep.Warnings)
		}
		data, _ := os.ReadFile(filepath.Join(dir2, "pki", "ca.crt"))
		certs, _ := pki.ParseCertificates(data)
		if !certs[0].NotAfter.Equal(root.Cert.NotAfter) {
			t.Errorf("the CA ends at %s, the root at %s", certs[0].NotAfter, root.Cert.NotAfter)
		}
	}
	// Times a second apart print differently.
	msg := (&pki.OutlivesCAError{Subject: "x", NotAfter: testNow.Add(300 * time.Millisecond), CA: "r", CANotAfter: testNow}).Error()
	if !strings.Contains(msg, ".3Z") {
		t.Errorf("sub-second difference hidden: %s", msg)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(data))
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// keepOnly removes every file under dir except the given relative paths.
func keepOnly(t *testing.T, dir string, keep ...string) {
	t.Helper()
	for path := range snapshot(t, dir) {
		rel, _ := filepath.Rel(dir, path)
		if !slices.Contains(keep, rel) {
			os.Remove(path)
		}
	}
}
