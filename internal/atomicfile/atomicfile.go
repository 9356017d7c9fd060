// Package atomicfile writes files so that a reader, or a crash, never sees
// a half-written one, and writes sets of files so that a failure leaves none
// of the set in place.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is one file of a set to write.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
	// Replace allows an existing file at Path to be replaced. Without it the
	// write fails if Path exists, so nothing written before (a CA key, say)
	// is ever clobbered by a race or a bug.
	Replace bool
}

// WriteFile atomically writes data to path with mode, replacing any file there.
func WriteFile(path string, data []byte, mode fs.FileMode) error {
	return WriteAll([]File{{Path: path, Data: data, Mode: mode, Replace: true}})
}

// WriteAll writes every file or none. Each file is first written and synced
// to a temporary name in its own directory; only when all of them are on disk
// are they moved into place, and the directories synced. A file being
// replaced is first hard-linked to a backup name, so that if any later step
// fails every file is put back as it was. Only a crash in the middle of the
// renames can leave a mix of old and new files.
func WriteAll(files []File) error {
	temps := make([]string, len(files))
	defer func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()

	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() { temps[i], errs[i] = writeTemp(f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	var undo []func()
	rollback := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	var backups []string
	dirs := map[string]bool{}
	for i, f := range files {
		dirs[filepath.Dir(f.Path)] = true
		if !f.Replace {
			// link(2) fails if the target exists, unlike rename(2).
			if err := os.Link(temps[i], f.Path); err != nil {
				rollback()
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("%s: already exists; refusing to overwrite it", f.Path)
				}
				return err
			}
			undo = append(undo, func() { os.Remove(f.Path) })
			continue
		}
		backup := temps[i] + ".bak"
		switch err := os.Link(f.Path, backup); {
		case err == nil:
			backups = append(backups, backup)
			undo = append(undo, func() { os.Rename(backup, f.Path) })
		case errors.Is(err, fs.ErrNotExist):
			undo = append(undo, func() { os.Remove(f.Path) })
		default:
			rollback()
			return err
		}
		if err := os.Rename(temps[i], f.Path); err != nil {
			rollback()
			return err
		}
	}
	for _, b := range backups {
		os.Remove(b)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func writeTemp(f File) (string, error) {
	t, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Path, unwrapPath(err))
	}
	name := t.Name()
	fail := func(err error) (string, error) {
		t.Close()
		os.Remove(name)
		return "", fmt.Errorf("%s: %w", f.Path, unwrapPath(err))
	}
	if err := t.Chmod(f.Mode); err != nil {
		return fail(err)
	}
	if _, err := t.Write(f.Data); err != nil {
		return fail(err)
	}
	if err := t.Sync(); err != nil {
		return fail(err)
	}
	if err := t.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("%s: %w", f.Path, unwrapPath(err))
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// unwrapPath drops the temporary file name from a *fs.PathError so that
// the message names the file the user asked for.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
