package apiserver

import "testing"

// deepWork uses about depth×256 bytes of stack, like a request on its way
// through the filters, the store and the serializers.
//
//go:noinline
func deepWork(depth int) byte {
	var frame [192]byte
	frame[depth%len(frame)] = byte(depth)
	if depth == 0 {
		return touchStack(frame[:])
	}
	return deepWork(depth-1) + touchStack(frame[:])
}

// BenchmarkRequestGoroutine runs 12 KiB-deep work on a new goroutine per
// iteration, as HTTP/2 does per request, with and without growStack first.
func BenchmarkRequestGoroutine(b *testing.B) {
	for _, grow := range []bool{false, true} {
		name := "doubling"
		if grow {
			name = "growStack"
		}
		b.Run(name, func(b *testing.B) {
			done := make(chan byte)
			for b.Loop() {
				go func() {
					if grow {
						growStack()
					}
					done <- deepWork(48)
				}()
				<-done
			}
		})
	}
}
