//go:build unix && !openbsd

package audit

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sharedMappings: here a file's shared mapping is its page cache, so
// what is copied into it is what a read of the file returns, and outlives
// the process. (OpenBSD, without a unified buffer cache, is left out.)
const sharedMappings = true

// mapFile maps the first n bytes of f, shared and writable: what is
// copied into the mapping is the file's.
func mapFile(f *os.File, n int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

func unmapFile(mem []byte) error {
	if mem == nil {
		return nil
	}
	return unix.Munmap(mem)
}

// lockFile takes f for this process alone: two servers sharing one ring
// would each append the other's lines. The lock goes with the process.
func lockFile(f *os.File) error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("in use by another process: %w", err)
	}
	return nil
}

// isFault is a write(2) that met a fault reading its buffer: the ring's
// mapping, cut short under it.
func isFault(err error) bool { return errors.Is(err, unix.EFAULT) }
