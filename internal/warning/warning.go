// Package warning carries a request's warnings to its client: code serving
// a request, however deep, adds one, and the HTTP layer sends each as a
// "Warning: 299" header, which kubectl prints.
package warning

import "context"

type warningsKey struct{}

// WithWarnings returns a context through which code serving a request can
// send the client warnings (HTTP "Warning: 299" headers, which kubectl
// prints).
func WithWarnings(ctx context.Context, warn func(message string)) context.Context {
	return context.WithValue(ctx, warningsKey{}, warn)
}

// Warn sends the client a warning, if ctx carries a request's warning sink.
func Warn(ctx context.Context, message string) {
	if warn, ok := ctx.Value(warningsKey{}).(func(string)); ok {
		warn(message)
	}
}
