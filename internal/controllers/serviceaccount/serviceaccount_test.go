package serviceaccount

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sekisho/sekisho/internal/admission"
	"github.com/sekisho/sekisho/internal/authn"
	"github.com/sekisho/sekisho/internal/catalog"
	"github.com/sekisho/sekisho/internal/informer"
	"github.com/sekisho/sekisho/internal/storage/bolt"
	"github.com/sekisho/sekisho/internal/store"
)

// The controller stops when its server loses the lease and runs again
// when it wins one back: a namespace made while it was stopped gets its
// default ServiceAccount in the next term.
func TestRunsAgainInANewTerm(t *testing.T) {
	kv, err := bolt.Open(bolt.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	st := store.NewStore(kv)
	w, err := store.NewWriter(st, admission.AllowAll())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Builtin()
	core := func(r string) *catalog.Resource {
		res, _ := cat.Lookup(corev1.SchemeGroupVersion.WithResource(r))
		return res
	}
	log := slog.New(slog.DiscardHandler)
	c := &Controller{Store: w, DefaultAccounts: true, Log: log,
		Namespaces:      informer.New(st, core("namespaces"), log),
		ServiceAccounts: informer.New(st, core("serviceaccounts"), log),
		Secrets:         informer.New(st, core("secrets"), log)}
	c.Register(core("serviceaccounts"), core("secrets"))
	ctx, cancel := context.WithCancel(authn.AsAPIServer(context.Background()))
	defer cancel()
	for _, i := range []*informer.Informer{c.Namespaces, c.ServiceAccounts, c.Secrets} {
		go i.Run(ctx)
	}
	createNamespace := func(name string) {
		if _, err := w.Create(ctx, core("namespaces"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, store.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	hasDefault := func(ns string, within time.Duration) bool {
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := w.Get(ctx, core("serviceaccounts"), ns, "default"); err == nil {
				return true
			}
		}
		return false
	}

	term, end := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(term); close(done) }()
	createNamespace("first")
	if !hasDefault("first", 5*time.Second) {
		t.Fatal("no default ServiceAccount while running")
	}
	end()
	<-done
	createNamespace("between")
	if hasDefault("between", 500*time.Millisecond) {
		t.Fatal("a stopped controller made a ServiceAccount")
	}
	go c.Run(ctx)
	if !hasDefault("between", 5*time.Second) {
		t.Fatal("the next term did not make the ServiceAccount of a namespace made between terms")
	}
}
