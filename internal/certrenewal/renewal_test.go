package certrenewal

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sekisho/sekisho/internal/clusterpki"
	"github.com/sekisho/sekisho/internal/pki"
)

func initPKI(t *testing.T, now time.Time, validity time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := clusterpki.Init(clusterpki.InitOptions{
		Dir: dir,
		Cluster: pki.ClusterConfig{NodeName: "node", AdvertiseAddress: net.ParseIP("192.0.2.1"), BindPort: 6443,
			ServiceCIDR: "10.96.0.0/12", DNSDomain: "cluster.local"},
		KeyType: pki.ECDSAP256, CertValidity: validity, CAValidity: 10 * 365 * 24 * time.Hour, Now: now,
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A certificate is renewed at two thirds of its lifetime, with the same
// lifetime and a new serial and key; before that nothing changes, and
// Check says when the next renewal falls.
func TestRenewsAtTwoThirds(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	dir := initPKI(t, start, 90*time.Minute)
	clock := start
	var logs bytes.Buffer
	r := &Renewer{Dir: dir, Names: ServerLeaves, Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return clock }}
	before, _ := r.read("apiserver")
	beforeKey, _ := os.ReadFile(dir + "/pki/apiserver.key")

	due := Due(before.NotBefore, before.NotAfter)
	lifetime := before.NotAfter.Sub(before.NotBefore)
	clock = due.Add(-time.Minute)
	if next := r.Check(); !next.Equal(due) {
		t.Errorf("next renewal %v, want %v", next, due)
	}
	if same, _ := r.read("apiserver"); same.SerialNumber.Cmp(before.SerialNumber) != 0 {
		t.Fatal("renewed before two thirds of the lifetime")
	}

	clock = due.Add(time.Minute)
	r.Check()
	for _, name := range ServerLeaves {
		after, err := r.read(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := after.NotAfter.Sub(after.NotBefore); got != lifetime {
			t.Errorf("%s renewed for %v, want the same %v", name, got, lifetime)
		}
		if !after.NotAfter.After(before.NotAfter) {
			t.Errorf("%s not renewed: valid from %v", name, after.NotBefore)
		}
	}
	after, _ := r.read("apiserver")
	if after.Subject.String() != before.Subject.String() || strings.Join(after.DNSNames, ",") != strings.Join(before.DNSNames, ",") ||
		len(after.IPAddresses) != len(before.IPAddresses) {
		t.Errorf("subject or SANs changed: %v %v %v, were %v %v %v", after.Subject, after.DNSNames, after.IPAddresses, before.Subject, before.DNSNames, before.IPAddresses)
	}
	if afterKey, _ := os.ReadFile(dir + "/pki/apiserver.key"); bytes.Equal(afterKey, beforeKey) {
		t.Error("the key was not rotated")
	}
	if !strings.Contains(logs.String(), "certificate renewed") || !strings.Contains(logs.String(), "nextRenewal") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// A CA whose key is not in the directory signs nothing here.
func TestExternalCAIsSkipped(t *testing.T) {
	dir := initPKI(t, time.Now(), time.Hour)
	os.Remove(dir + "/pki/front-proxy-ca.key")
	names, skipped := Renewable(dir)
	if strings.Join(names, ",") != "apiserver,apiserver-kubelet-client,apiserver-etcd-client" || !strings.Contains(skipped["front-proxy-client"], "front-proxy-ca.key") {
		t.Errorf("renewable %v, skipped %v", names, skipped)
	}
}

// Renewal counts from the issue, not from the backdated notBefore: a
// 30-second certificate is renewed after 20 seconds, not at once.
func TestDueOfShortLifetimes(t *testing.T) {
	issued := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if got, want := Due(issued.Add(-pki.ClockSkew), issued.Add(30*time.Second)), issued.Add(20*time.Second); !got.Equal(want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
	// A certificate not backdated (another issuer's) is taken as it is.
	if got, want := Due(issued, issued.Add(3*time.Minute)), issued.Add(2*time.Minute); !got.Equal(want) {
		t.Errorf("Due = %v, want %v", got, want)
	}
}

// The server retires a rotated-out service-account key when its overlap
// ends, and says so.
func TestRetiresServiceAccountKeys(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	dir := initPKI(t, start, 365*24*time.Hour)
	rot, err := clusterpki.RotateServiceAccountKey(dir, "", 10*time.Minute, start)
	if err != nil {
		t.Fatal(err)
	}
	clock := start.Add(9 * time.Minute)
	var logs bytes.Buffer
	r := &Renewer{Dir: dir, ServiceAccountKeys: true, Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return clock }}
	if next := r.Check(); !next.Equal(rot.Retired.RetireAfter) {
		t.Errorf("next check %v, want the retirement %v", next, rot.Retired.RetireAfter)
	}
	if keys, _ := clusterpki.ServiceAccountKeys(dir); len(keys) != 2 {
		t.Fatalf("retired early: %+v", keys)
	}
	clock = start.Add(10 * time.Minute)
	r.Check()
	if keys, _ := clusterpki.ServiceAccountKeys(dir); len(keys) != 1 || keys[0].ID != rot.New.ID {
		t.Errorf("after the overlap: %+v", keys)
	}
	if !strings.Contains(logs.String(), "service-account key retired") || !strings.Contains(logs.String(), rot.Retired.ID) {
		t.Errorf("log:\n%s", logs.String())
	}
}
