package admission

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

type recorder struct {
	name string
	log  *[]string
}

func (r recorder) Admit(context.Context, *Attributes) error {
	*r.log = append(*r.log, "mutate "+r.name)
	return nil
}

func (r recorder) Validate(context.Context, *Attributes) error {
	*r.log = append(*r.log, "validate "+r.name)
	return nil
}

func registry(t *testing.T, log *[]string) *Registry {
	t.Helper()
	r := &Registry{}
	for _, n := range []string{"First", "Second", "Third"} {
		if err := r.Register(n, func() (any, error) { return recorder{n, log}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RegisterAlways("Always", func() (any, error) { return recorder{"Always", log}, nil }); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildRefusesBadNames(t *testing.T) {
	r := registry(t, new([]string))
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"First", "Fourth"}, `admission plugin "Fourth" is unknown`},
		{[]string{"Second", "First", "Second"}, `admission plugin "Second" is named twice`},
		{[]string{"Always"}, `admission plugin "Always" always runs and cannot be named`},
		{[]string{""}, `admission plugin "" is unknown`},
	} {
		chain, err := r.Build(c.names)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build(%q) = %v, %v; want an error containing %q", c.names, chain, err, c.want)
		}
	}
	if err := r.Register("First", func() (any, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), `"First" registered twice`) {
		t.Errorf("registering First twice: %v", err)
	}
}

func TestBuildRunsInRegistryOrder(t *testing.T) {
	var log []string
	c, err := registry(t, &log).Build([]string{"Third", "First"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"First", "Third", "Always"}; !slices.Equal(c.Names, want) {
		t.Errorf("chain %v, want %v", c.Names, want)
	}
	if err := c.Mutate(context.Background(), &Attributes{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(context.Background(), &Attributes{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"mutate First", "mutate Third", "mutate Always", "validate First", "validate Third", "validate Always"}
	if !slices.Equal(log, want) {
		t.Errorf("ran %v, want %v", log, want)
	}
}

func TestBuildReportsFactoryFailure(t *testing.T) {
	r := &Registry{}
	r.Register("Broken", func() (any, error) { return nil, errors.New("needs a reader") })
	r.Register("Useless", func() (any, error) { return struct{}{}, nil })
	if _, err := r.Build([]string{"Broken"}); err == nil || err.Error() != "admission plugin Broken: needs a reader" {
		t.Errorf("broken factory: %v", err)
	}
	if _, err := r.Build([]string{"Useless"}); err == nil || !strings.Contains(err.Error(), "Useless is neither") {
		t.Errorf("plugin of no kind: %v", err)
	}
}

// A nil chain is a server built without admission: it refuses writes
// rather than letting them all through.
func TestNilChainFailsClosed(t *testing.T) {
	var c *Chain
	if err := c.Mutate(context.Background(), &Attributes{Operation: Create}); err == nil {
		t.Error("nil chain admitted a mutation")
	}
	if err := c.Validate(context.Background(), &Attributes{Operation: Create}); err == nil {
		t.Error("nil chain validated a write")
	}
	if err := AllowAll().Validate(context.Background(), &Attributes{Operation: Create}); err != nil {
		t.Errorf("AllowAll refused: %v", err)
	}
}
