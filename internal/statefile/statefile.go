// Package statefile keeps one small file of the daemon's state (the cars
// remembered, their handovers): read whole within a bound, replaced whole
// (a new file, synced, renamed over the old: a power cut leaves the old or
// the new), and moved aside when its owner finds it damaged.
package statefile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// CorruptError says that a state file could not be read as one: it was
// moved aside (Aside) and its owner starts afresh.
type CorruptError struct {
	What        string // what the file holds, e.g. "the remembered cars"
	Path, Aside string
	Err         error
	Then        string // what starting afresh means to the owner
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s in %s are damaged (%v): kept as %s, starting afresh; %s", e.What, e.Path, e.Err, e.Aside, e.Then)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads the file at path, at most max bytes, with parse. A missing
// file is the zero T and no error; a file parse refuses is moved aside:
// the zero T and a *CorruptError (what and then word it).
func Load[T any](path string, max int64, what, then string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := Read(path, max)
	if errors.Is(err, os.ErrNotExist) {
		return zero, nil
	}
	if err != nil {
		return zero, fmt.Errorf("cannot read %s: %w", what, err)
	}
	v, perr := parse(data)
	if perr == nil {
		return v, nil
	}
	aside, err := MoveAside(path)
	if err != nil {
		return zero, fmt.Errorf("%s in %s are damaged (%v) and cannot be moved aside: %w", what, path, perr, err)
	}
	return zero, &CorruptError{What: what, Path: path, Aside: aside, Err: perr, Then: then}
}

// Read returns the file's content, at most max+1 bytes, so that the caller
// sees a file too large for it; a missing file is an error that
// errors.Is(err, os.ErrNotExist).
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max+1))
}

// Write replaces the file at path with data: a new file in the same
// directory, synced, renamed over the old.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return err
}

// MoveAside renames a damaged file to path+".corrupt", kept for a look,
// and returns that name.
func MoveAside(path string) (string, error) {
	aside := path + ".corrupt"
	return aside, os.Rename(path, aside)
}
