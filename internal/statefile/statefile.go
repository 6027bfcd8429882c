// Package statefile keeps one small file of the daemon's state (the cars
// remembered, their handovers): read whole within a bound, replaced whole
// (a new file, synced, renamed over the old: a power cut leaves the old or
// the new), and moved aside when its owner finds it damaged.
package statefile

import (
	"io"
	"os"
	"path/filepath"
)

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
