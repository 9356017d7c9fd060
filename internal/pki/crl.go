package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// RFC 5280 revocation reason codes, by the names `certs revoke --reason` accepts.
var revocationReasons = map[string]int{
	"unspecified":          0,
	"keyCompromise":        1,
	"caCompromise":         2,
	"affiliationChanged":   3,
	"superseded":           4,
	"cessationOfOperation": 5,
	"certificateHold":      6,
	"privilegeWithdrawn":   9,
	"aaCompromise":         10,
}

// ParseRevocationReason maps a reason name to its code.
func ParseRevocationReason(name string) (int, error) {
	if code, ok := revocationReasons[name]; ok {
		return code, nil
	}
	var names []string
	for n := range revocationReasons {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown revocation reason %q (want one of %s)", name, strings.Join(names, ", "))
}

// RevocationReasonName maps a reason code to its name.
func RevocationReasonName(code int) string {
	for n, c := range revocationReasons {
		if c == code {
			return n
		}
	}
	return fmt.Sprintf("reason %d", code)
}

// ParseCRLs decodes every X509 CRL block in data. It fails when data holds
// no CRL, a block of another type, or trailing data.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	return parseBlocks(data, blockCRL, "CRL", x509.ParseRevocationList)
}

// EncodeCRL is a DER CRL as a PEM block.
func EncodeCRL(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockCRL, Bytes: der})
}

// ParseCRL decodes a PEM CRL.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != blockCRL {
		return nil, errors.New("no PEM \"X509 CRL\" block found")
	}
	return x509.ParseRevocationList(block.Bytes)
}

// Revoke returns a new CRL issued by ca that holds every entry of prev (if
// any) plus serial, with a higher CRL number. nextUpdate is when relying
// parties should expect a newer list.
//
// The number is never below the current Unix time, so that a list made
// after the file was lost (prev nil) still numbers above every list the API
// server has accepted, which refuses any CRL older than one it has seen.
func (ca *CA) Revoke(prev *x509.RevocationList, serial *big.Int, reason int, now time.Time, nextUpdate time.Time) ([]byte, error) {
	if ca.Key == nil {
		return nil, ErrExternalCA
	}
	number := big.NewInt(now.Unix())
	var entries []x509.RevocationListEntry
	if prev != nil {
		if err := prev.CheckSignatureFrom(ca.Cert); err != nil {
			return nil, fmt.Errorf("the existing CRL is not signed by this CA: %w", err)
		}
		entries = append(entries, prev.RevokedCertificateEntries...)
		if prev.Number != nil {
			if next := new(big.Int).Add(prev.Number, big.NewInt(1)); next.Cmp(number) > 0 {
				number = next
			}
		}
		for _, e := range entries {
			if e.SerialNumber.Cmp(serial) == 0 {
				return nil, fmt.Errorf("serial %X is already revoked", serial)
			}
		}
	}
	entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now.UTC(), ReasonCode: reason})
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now.UTC(),
		NextUpdate:                nextUpdate.UTC(),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blockCRL, Bytes: der}), nil
}
