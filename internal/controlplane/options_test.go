package controlplane

import (
	"strings"
	"testing"
	"time"
)

// validOptions are the defaults plus what `sekisho serve` must be given.
func validOptions() Options {
	o := DefaultOptions()
	o.TLSCertFile, o.TLSPrivateKeyFile = "apiserver.crt", "apiserver.key"
	o.StorageDir = "data"
	return o
}

// TestValidateAuthorization: each mistake in the authorization flags is
// refused on its own, with a message that names the flag.
func TestValidateAuthorization(t *testing.T) {
	o := validOptions()
	if err := o.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	for _, c := range []struct {
		name   string
		change func(*Options)
		want   string // the whole message; "" means valid
	}{
		{"the default, Node,RBAC", func(o *Options) {}, ""},
		{"every mode once", func(o *Options) {
			o.AuthorizationModes = []string{ModeNode, ModeRBAC, ModeWebhook, ModeAlwaysAllow, ModeAlwaysDeny}
			o.AuthorizationWebhookConfigFile = "webhook.kubeconfig"
		}, ""},
		{"AlwaysAllow alone", func(o *Options) { o.AuthorizationModes = []string{ModeAlwaysAllow} }, ""},
		{"AlwaysDeny alone", func(o *Options) { o.AuthorizationModes = []string{ModeAlwaysDeny} }, ""},
		{"webhook caches off", func(o *Options) {
			o.AuthorizationWebhookCacheAuthorizedTTL, o.AuthorizationWebhookCacheUnauthorizedTTL = 0, 0
		}, ""},

		{"no mode", func(o *Options) { o.AuthorizationModes = nil },
			"--authorization-mode must name at least one mode"},
		{"unknown mode", func(o *Options) { o.AuthorizationModes = []string{ModeNode, "ABAC"} },
			`--authorization-mode "ABAC": want one of Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny`},
		{"a mode's name is case-sensitive", func(o *Options) { o.AuthorizationModes = []string{"rbac"} },
			`--authorization-mode "rbac": want one of Node, RBAC, Webhook, AlwaysAllow, AlwaysDeny`},
		{"a mode given twice", func(o *Options) { o.AuthorizationModes = []string{ModeNode, ModeRBAC, ModeNode} },
			`--authorization-mode "Node": given twice`},
		{"Webhook without a config file", func(o *Options) { o.AuthorizationModes = []string{ModeNode, ModeRBAC, ModeWebhook} },
			"--authorization-mode Webhook requires --authorization-webhook-config-file"},
		{"a config file without Webhook", func(o *Options) { o.AuthorizationWebhookConfigFile = "webhook.kubeconfig" },
			"--authorization-webhook-config-file requires Webhook in --authorization-mode"},
		{"webhook version v1beta1", func(o *Options) { o.AuthorizationWebhookVersion = "v1beta1" },
			`--authorization-webhook-version "v1beta1": only v1 is supported`},
		{"webhook version empty", func(o *Options) { o.AuthorizationWebhookVersion = "" },
			`--authorization-webhook-version "": only v1 is supported`},
		{"negative cache TTL", func(o *Options) { o.AuthorizationWebhookCacheUnauthorizedTTL = -time.Second },
			"--authorization-webhook-cache-authorized-ttl and --authorization-webhook-cache-unauthorized-ttl must not be negative"},
	} {
		o := validOptions()
		c.change(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && err == nil:
			t.Errorf("%s: accepted, want %q", c.name, c.want)
		case c.want != "" && err.Error() != c.want:
			t.Errorf("%s:\n got %q\nwant %q", c.name, err, c.want)
		}
	}

	// Several mistakes are reported together, each naming its flag.
	o = validOptions()
	o.AuthorizationModes = []string{"ABAC", ModeWebhook, ModeWebhook}
	o.AuthorizationWebhookVersion = "v2"
	err := o.Validate()
	if err == nil {
		t.Fatal("several mistakes accepted")
	}
	for _, want := range []string{
		`--authorization-mode "ABAC": want one of`,
		`--authorization-mode "Webhook": given twice`,
		"--authorization-mode Webhook requires --authorization-webhook-config-file",
		`--authorization-webhook-version "v2": only v1 is supported`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the joined error lacks %q:\n%v", want, err)
		}
	}
}

// TestValidateAudit: an audit configuration that would record nothing,
// or that is malformed, is refused, naming the flags.
func TestValidateAudit(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(*Options)
		want   string // part of the message; "" means valid
	}{
		{"off", func(o *Options) {}, ""},
		{"a policy and a log", func(o *Options) { o.AuditPolicyFile, o.AuditLog.Path = "p.yaml", "audit.log" }, ""},
		{"a policy and a webhook", func(o *Options) { o.AuditPolicyFile, o.AuditWebhook.ConfigFile = "p.yaml", "w.conf" }, ""},
		{"a policy alone", func(o *Options) { o.AuditPolicyFile = "p.yaml" }, "--audit-policy-file needs --audit-log-path or --audit-webhook-config-file"},
		{"a log alone", func(o *Options) { o.AuditLog.Path = "audit.log" }, "need --audit-policy-file"},
		{"a webhook alone", func(o *Options) { o.AuditWebhook.ConfigFile = "w.conf" }, "need --audit-policy-file"},
		{"a bad log format", func(o *Options) { o.AuditPolicyFile, o.AuditLog.Path, o.AuditLog.Format = "p.yaml", "a.log", "yaml" }, "--audit-log-format"},
		{"a bad webhook mode", func(o *Options) {
			o.AuditPolicyFile, o.AuditWebhook.ConfigFile, o.AuditWebhook.Mode = "p.yaml", "w.conf", "eventually"
		}, "--audit-webhook-mode"},
		{"no spool", func(o *Options) {
			o.AuditPolicyFile, o.AuditWebhook.ConfigFile, o.AuditWebhookSpoolMaxMB = "p.yaml", "w.conf", 0
		}, "--audit-webhook-spool-max-size"},
		{"truncation smaller than an event", func(o *Options) {
			o.AuditPolicyFile, o.AuditLog.Path = "p.yaml", "a.log"
			o.AuditLog.Truncate.Enabled, o.AuditLog.Truncate.MaxBatchSize = true, 10
		}, "--audit-log-truncate-max-batch-size"},
	} {
		o := validOptions()
		c.change(&o)
		err := o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
