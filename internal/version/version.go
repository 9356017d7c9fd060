// Package version reports which build of sekisho is running.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: go build -ldflags "-X github.com/sekisho/sekisho/internal/version.version=v0.1.0 -X ...commit=abc".
var (
	version = "v0.0.0-dev"
	commit  = ""
)

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's version, commit and Go version. The commit falls
// back to the VCS revision Go stamps into the binary, then to "unknown".
func Get() Info {
	c := commit
	if c == "" {
		c = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	return Info{
		Version:   version,
		Commit:    c,
		GoVersion: runtime.Version(),
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}
