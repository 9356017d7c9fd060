//go:build !unix || openbsd

package audit

import (
	"errors"
	"os"
)

// sharedMappings: not here; the log's requests write their lines
// themselves.
const sharedMappings = false

// mapFile: no shared mappings here.
func mapFile(*os.File, int) ([]byte, error) {
	return nil, errors.New("no shared file mappings on this system")
}

func unmapFile([]byte) error { return nil }

func lockFile(*os.File) error { return nil }

func isFault(error) bool { return false }
