package registry

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
