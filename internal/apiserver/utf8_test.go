package apiserver

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		body string
		want string // "" when valid
	}{
		{`{"data":{"k":"v"}}`, ""},
		{`{"data":{"k":"日本語 ✓"}}`, ""},
		{`{"data":{"k":"\u00e9 \ud83d\ude00"}}`, ""}, // a paired surrogate: 😀
		{`{"data":{"k":"\\ud800"}}`, ""},             // an escaped backslash, then text
		{`{"data":{"k":"\"\ud83d\ude00"}}`, ""},
		{"{\"data\":{\"k\":\"v\xff\xfe\"}}", "not valid UTF-8 (at byte 15)"},
		{"{\"metadata\":{\"annotations\":{\"a\":\"\xc3\"}}}", "not valid UTF-8"},
		{`{"data":{"k":"\ud800"}}`, "unpaired UTF-16 surrogate (at byte 14)"},
		{`{"data":{"k":"\udc00\ud800"}}`, "unpaired"},
		{`{"data":{"k":"\ud800\u0041"}}`, "unpaired"},
		{`{"data":{"k":"\uD83D"}}`, "unpaired"},
		{`{"data":{"k":"x\ud800`, "unpaired"}, // truncated
	} {
		err := checkText([]byte(c.body))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.body, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want %q", c.body, err, c.want)
		}
	}
}

func TestCheckObjectText(t *testing.T) {
	ok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{"a": "b"}},
		Data: map[string][]byte{"bin": {0xff, 0xfe}}} // binary data is fine
	if err := checkObjectText(ok); err != nil {
		t.Errorf("valid object: %v", err)
	}
	for _, c := range []struct {
		obj  any
		want string
	}{
		{&corev1.ConfigMap{Data: map[string]string{"k": "v\xff"}}, `.Data["k"]`},
		{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"a\xfe": "v"}}}, ".ObjectMeta.Annotations[key]"},
		{&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Args: []string{"ok", "\xc3"}}}}}, ".Spec.Containers[0].Args[1]"},
	} {
		err := checkObjectText(c.obj)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T: %v, want %q", c.obj, err, c.want)
		}
	}
}
