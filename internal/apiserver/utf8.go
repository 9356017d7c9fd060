package apiserver

import (
	"fmt"
	"reflect"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Request bodies must be valid UTF-8. kube-apiserver replaces invalid
// bytes, and lone UTF-16 surrogates written as \u escapes, with U+FFFD and
// stores the result without a word; sekisho refuses them, so that nothing
// is stored other than what the client sent (docs/compatibility.md).

// checkText refuses a JSON or YAML body that is not valid UTF-8, or that
// writes a string JSON cannot hold: an unpaired surrogate escape.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return apierrors.NewBadRequest(fmt.Sprintf("the request body is not valid UTF-8 (at byte %d): refused rather than stored altered", firstInvalidUTF8(data)))
	}
	if at := loneSurrogateEscape(data); at >= 0 {
		return apierrors.NewBadRequest(fmt.Sprintf("the request body escapes an unpaired UTF-16 surrogate (at byte %d), which no valid string holds: refused rather than stored altered", at))
	}
	return nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// loneSurrogateEscape returns the offset of a \uD800–\uDFFF escape inside
// a JSON string that is not a high surrogate followed by a low one, or -1.
// Outside strings a backslash cannot occur in valid JSON, and invalid JSON
// fails to decode anyway; YAML bodies are checked after they are
// converted to JSON.
func loneSurrogateEscape(data []byte) int {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(data):
			if data[i+1] != 'u' {
				i++ // skip the escaped character, which may be a quote
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				i++
				continue
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), false
				if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					lo, ok = hex4(data, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i
				}
				i += 11
			case r >= 0xDC00 && r <= 0xDFFF:
				return i
			default:
				i += 5
			}
		}
	}
	return -1
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[at : at+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// checkObjectText refuses a decoded object holding a string, or a map key,
// that is not valid UTF-8: protobuf bodies carry raw bytes in strings,
// which JSON encoding would alter when the object is stored. Byte slices
// (Secret data) are binary and not checked.
func checkObjectText(obj any) error {
	if path, ok := invalidString(reflect.ValueOf(obj), ""); !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("the request body holds a string that is not valid UTF-8 at %s: refused rather than stored altered", path))
	}
	return nil
}

func invalidString(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return path, utf8.ValidString(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", true
		}
		return invalidString(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			if p, ok := invalidString(v.Field(i), path+"."+t.Field(i).Name); !ok {
				return p, false
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", true
		}
		for i := range v.Len() {
			if p, ok := invalidString(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := it.Key()
			if k.Kind() == reflect.String && !utf8.ValidString(k.String()) {
				return path + "[key]", false
			}
			if p, ok := invalidString(it.Value(), fmt.Sprintf("%s[%q]", path, k.String())); !ok {
				return p, false
			}
		}
	}
	return "", true
}
