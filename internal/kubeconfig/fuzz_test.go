package kubeconfig

import (
	"bytes"
	"testing"
)

// FuzzParse feeds kubeconfigs to Parse. Nothing panics, and a kubeconfig
// that parses into something Render can write renders and parses back to
// the same cluster, user, server and credentials. SetClientCertificate on
// it keeps everything but the credential it replaces.
func FuzzParse(f *testing.F) {
	seed, err := Render(Spec{ClusterName: "kubernetes", UserName: "kubernetes-admin", Server: "https://127.0.0.1:6443",
		CAPEM: []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), Token: "abc.def"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://x:1'}\nusers:\n- name: u\n  user: {token: t}\n"))
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"missing\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil || s.ClusterName == "" || s.UserName == "" || s.Server == "" {
			return
		}
		out, err := Render(s)
		if err != nil {
			t.Fatalf("Render of a parsed kubeconfig: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("rendered kubeconfig does not parse: %v\n%s", err, out)
		}
		if !equalSpec(s, again) {
			t.Fatalf("round trip changed the kubeconfig:\n%+v\n%+v", s, again)
		}
		replaced, err := SetClientCertificate(data, []byte("cert"), []byte("key"))
		if err != nil {
			t.Fatalf("SetClientCertificate on a kubeconfig Parse accepted: %v", err)
		}
		after, err := Parse(replaced)
		if err != nil {
			t.Fatalf("after SetClientCertificate: %v", err)
		}
		s.CertPEM, s.KeyPEM = []byte("cert"), []byte("key")
		if !equalSpec(s, after) {
			t.Fatalf("SetClientCertificate changed more than the credential:\n%+v\n%+v", s, after)
		}
	})
}

func equalSpec(a, b Spec) bool {
	return a.ClusterName == b.ClusterName && a.UserName == b.UserName && a.Server == b.Server && a.Token == b.Token &&
		bytes.Equal(a.CAPEM, b.CAPEM) && bytes.Equal(a.CertPEM, b.CertPEM) && bytes.Equal(a.KeyPEM, b.KeyPEM)
}
