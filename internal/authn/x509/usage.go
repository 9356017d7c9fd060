package x509

import (
	"crypto/x509"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// IssuerUsage records, for each CA that issued a client certificate the
// server accepted, which users presented one and when last. A CA rotation
// asks it whether anyone still presents a certificate of the old CA
// before that CA stops being trusted.
type IssuerUsage struct {
	since time.Time
	seen  sync.Map // usageKey -> *usageEntry
	n     atomic.Int64
}

// maxUsageEntries bounds the record; past it, new pairs are not recorded
// and Report says so.
const maxUsageEntries = 100_000

type usageKey struct{ issuer, user string }

type usageEntry struct {
	issuerName string
	last       atomic.Int64 // unix nanoseconds
}

// NewIssuerUsage starts recording at now.
func NewIssuerUsage(now time.Time) *IssuerUsage { return &IssuerUsage{since: now} }

// IssuerID names a certificate's issuing CA: the hex of its authority key
// identifier, which is the CA's subject key identifier, or the issuer's
// name when the certificate has none.
func IssuerID(c *x509.Certificate) string {
	if len(c.AuthorityKeyId) > 0 {
		return hex.EncodeToString(c.AuthorityKeyId)
	}
	return "name:" + c.Issuer.String()
}

// record notes that user presented leaf at now. On the request path: an
// entry is written at most once a second.
func (u *IssuerUsage) record(leaf *x509.Certificate, user string, now time.Time) {
	if u == nil {
		return
	}
	key := usageKey{IssuerID(leaf), user}
	v, ok := u.seen.Load(key)
	if !ok {
		if u.n.Load() >= maxUsageEntries {
			return
		}
		var loaded bool
		v, loaded = u.seen.LoadOrStore(key, &usageEntry{issuerName: leaf.Issuer.String()})
		if !loaded {
			u.n.Add(1)
		}
	}
	e := v.(*usageEntry)
	if t := now.UnixNano(); t-e.last.Load() > int64(time.Second) {
		e.last.Store(t)
	}
}

// UsageReport is what IssuerUsage has seen.
type UsageReport struct {
	// Since is when recording began (the server's start).
	Since   time.Time     `json:"since"`
	Issuers []IssuerUsers `json:"issuers"`
	// Truncated: more pairs were presented than are recorded.
	Truncated bool `json:"truncated,omitempty"`
}

// IssuerUsers are the users who presented certificates of one CA.
type IssuerUsers struct {
	// ID is IssuerID of the certificates.
	ID    string     `json:"id"`
	Name  string     `json:"name"`
	Users []UserSeen `json:"users"`
}

// UserSeen is a user and when it last presented such a certificate.
type UserSeen struct {
	User     string    `json:"user"`
	LastSeen time.Time `json:"lastSeen"`
}

// Report lists what was seen, by issuer and user.
func (u *IssuerUsage) Report() UsageReport {
	r := UsageReport{Since: u.since, Truncated: u.n.Load() >= maxUsageEntries}
	byIssuer := map[string]*IssuerUsers{}
	u.seen.Range(func(k, v any) bool {
		key, e := k.(usageKey), v.(*usageEntry)
		iu := byIssuer[key.issuer]
		if iu == nil {
			iu = &IssuerUsers{ID: key.issuer, Name: e.issuerName}
			byIssuer[key.issuer] = iu
		}
		iu.Users = append(iu.Users, UserSeen{User: key.user, LastSeen: time.Unix(0, e.last.Load()).UTC()})
		return true
	})
	for _, iu := range byIssuer {
		slices.SortFunc(iu.Users, func(a, b UserSeen) int { return strings.Compare(a.User, b.User) })
		r.Issuers = append(r.Issuers, *iu)
	}
	slices.SortFunc(r.Issuers, func(a, b IssuerUsers) int { return strings.Compare(a.ID, b.ID) })
	return r
}
