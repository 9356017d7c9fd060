// Package reload watches configuration files and hands their new contents
// to a loader when they change, so the server picks up rotated CAs, CRLs,
// token files and configurations without a restart. A loader that rejects
// the new contents leaves the last good state in place.
package reload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// Loader applies a file's contents. exists is false when the file is
// missing. An error means the contents were not applied.
type Loader func(data []byte, exists bool) error

// File is a watched file.
type File struct {
	Path     string
	Load     Loader
	Interval time.Duration
	Log      *slog.Logger
	// Optional means a file missing at start is a valid state (e.g. no
	// CRL yet), not an error; it is loaded once it appears. A file that
	// was loaded and then disappears keeps its last contents, optional or
	// not.
	Optional bool

	last    [sha256.Size]byte
	present bool
	stat    fileStat
	// goneReported: the file's removal has been logged once.
	goneReported bool
}

type fileStat struct {
	size    int64
	modTime time.Time
	ino     uint64
}

func statOf(info fs.FileInfo) fileStat {
	return fileStat{size: info.Size(), modTime: info.ModTime(), ino: inode(info)}
}

// Start loads the file once, failing if that first load fails, then
// watches it until ctx ends.
func (f *File) Start(ctx context.Context) error {
	if f.Interval == 0 {
		f.Interval = time.Second
	}
	if f.Log == nil {
		f.Log = slog.Default()
	}
	if err := f.check(true); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(f.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := f.check(false); err != nil {
					f.Log.Warn("reload failed; keeping the last good contents", "file", f.Path, "err", err)
				}
			}
		}
	}()
	return nil
}

// check reloads when the file's metadata, then its content, changed.
func (f *File) check(first bool) error {
	info, err := os.Stat(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		switch {
		case first && f.Optional:
			return f.Load(nil, false)
		case first:
			return err
		case !f.present || f.goneReported:
			return nil
		}
		// It was there and is gone: deleted, or mid-replacement. What it
		// said stays in force (a deleted CRL must not un-revoke anything);
		// say so once.
		f.goneReported = true
		return fmt.Errorf("%s was removed; its last contents stay in force until it is back", f.Path)
	}
	if err != nil {
		return err
	}
	f.goneReported = false
	st := statOf(info)
	if !first && f.present && st == f.stat {
		return nil
	}
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	f.stat = st
	if !first && f.present && bytes.Equal(sum[:], f.last[:]) {
		return nil
	}
	if err := f.Load(data, true); err != nil {
		return err
	}
	f.last, f.present = sum, true
	if !first {
		f.Log.Info("reloaded", "file", f.Path)
	}
	return nil
}
