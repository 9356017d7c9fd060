package audit

import (
	"context"
	"maps"
	"sync"
	"testing"
)

func TestAnnotateKeepsTheFirstValue(t *testing.T) {
	if !Annotate(context.Background(), "k", "v") {
		t.Error("a request without annotations refused one")
	}
	ctx, a := WithAnnotations(context.Background())
	if AnnotationsFrom(ctx) != a {
		t.Fatal("AnnotationsFrom does not return the request's annotations")
	}
	if !Annotate(ctx, "a", "1") || !Annotate(ctx, "a", "1") {
		t.Error("the same value twice was refused")
	}
	if Annotate(ctx, "a", "2") {
		t.Error("a second value replaced the first")
	}
	var wg sync.WaitGroup
	for _, k := range []string{"b", "c", "d"} {
		wg.Go(func() { Annotate(ctx, k, k) })
	}
	wg.Wait()
	want := map[string]string{"a": "1", "b": "b", "c": "c", "d": "d"}
	if got := a.Map(); !maps.Equal(got, want) {
		t.Errorf("annotations %v, want %v", got, want)
	}
	a.Map()["a"] = "changed"
	if a.Map()["a"] != "1" {
		t.Error("Map returned the annotations themselves, not a copy")
	}
}
