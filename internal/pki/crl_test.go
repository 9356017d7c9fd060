package pki

import (
	"math/big"
	"testing"
	"time"
)

// TestRevokeNumbers: each CRL numbers above the one it extends, and never
// below the Unix time, so that a list started over after the file was lost
// still numbers above the lists an API server has accepted.
func TestRevokeNumbers(t *testing.T) {
	ca := mustCA(t, ECDSAP256)
	at := time.Unix(1_800_000_000, 0)
	first, err := ca.Revoke(nil, big.NewInt(10), 1, at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l1, err := ParseCRL(first)
	if err != nil {
		t.Fatal(err)
	}
	if l1.Number.Int64() != at.Unix() {
		t.Errorf("first number %s, want %d", l1.Number, at.Unix())
	}
	// Two revocations within the same second still climb.
	second, err := ca.Revoke(l1, big.NewInt(11), 1, at, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := ParseCRL(second)
	if l2.Number.Cmp(l1.Number) <= 0 || len(l2.RevokedCertificateEntries) != 2 {
		t.Errorf("second: number %s after %s, %d entries", l2.Number, l1.Number, len(l2.RevokedCertificateEntries))
	}
	// A list with a small number (made elsewhere) is followed by the time.
	small := *l2
	small.Number = big.NewInt(3)
	third, err := ca.Revoke(&small, big.NewInt(12), 1, at.Add(time.Minute), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l3, _ := ParseCRL(third)
	if l3.Number.Int64() != at.Add(time.Minute).Unix() {
		t.Errorf("third number %s, want the time", l3.Number)
	}
}
