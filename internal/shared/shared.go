// Package shared finds the project's shared material (schemas, captures,
// vectors) that tests read at run time and never copy into the repository.
package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns the shared directory: $CCSLINK_SHARED, or a directory
// named shared beside the repository root (found by walking up from the
// working directory).
func SharedDir() (string, bool) {
	if d := os.Getenv("CCSLINK_SHARED"); d != "" {
		if isShared(d) {
			return d, true
		}
		return "", false
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if c := filepath.Join(dir, "shared"); isShared(c) {
			return c, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isShared(d string) bool {
	for _, sub := range []string{"schemas", "captures"} {
		if fi, err := os.Stat(filepath.Join(d, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// Path joins elem to the shared directory, or skips the test when the
// shared material is absent.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	d, ok := SharedDir()
	if !ok {
		t.Skip("shared material not found: set CCSLINK_SHARED or place shared/ beside the repository")
	}
	return filepath.Join(append([]string{d}, elem...)...)
}
