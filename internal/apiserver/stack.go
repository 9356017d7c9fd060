package apiserver

// requestStackBytes is about the stack a request needs on its way through
// the filter chain, the store and the serializers.
const requestStackBytes = 16 << 10

// growStack grows the calling goroutine's stack to requestStackBytes in one
// step. Over HTTP/2 every request runs on a new goroutine whose stack starts
// small; left alone it doubles several times on the way down the chain, and
// each doubling copies the stack and walks every frame on it (about 15% of
// server CPU for a GET, measured in docs/benchmarks.md). Growing once here,
// where the stack is shallow, makes one cheap copy instead. HTTP/1.1 serves
// a connection's requests on one goroutine, whose stack stays grown, so
// there it would only cost a 16 KiB clear per request.
//
//go:noinline
func growStack() byte {
	var frame [requestStackBytes]byte
	return touchStack(frame[:])
}

// touchStack keeps the frame from being optimized away; the slice does not
// escape, so the array stays on the stack.
//
//go:noinline
func touchStack(b []byte) byte { return b[len(b)-1] }
