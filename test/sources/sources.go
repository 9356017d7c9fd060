// Package sources makes go test rerun the tests that use the product as a
// whole. go test caches a package's result by what its test binary
// imports and by the files and directories its tests opened. Tests that
// build the binary or run go list import none of sekisho, so Record opens
// every source file and directory: a change to any of them reruns them.
package sources

import (
	"os"
	"path/filepath"
	"strings"
)

// Record opens the module's directories and Go, go.mod and go.sum files
// under root, skipping hidden directories and testdata. Call it from a
// test, not TestMain: only opens made while tests run are recorded.
func Record(root string) {
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if name := d.Name(); strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
		}
		return nil
	})
}
