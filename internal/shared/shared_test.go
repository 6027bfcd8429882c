package shared

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeShared makes dir/shared with the two folders that identify it.
func fakeShared(t *testing.T, dir string) string {
	s := filepath.Join(dir, "shared")
	for _, sub := range []string{"schemas", "captures"} {
		if err := os.MkdirAll(filepath.Join(s, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestEnv(t *testing.T) {
	s := fakeShared(t, t.TempDir())
	t.Setenv("CCSLINK_SHARED", s)
	if d, ok := SharedDir(); !ok || d != s {
		t.Errorf("SharedDir() = %q, %v; want %q", d, ok, s)
	}
	if p := Path(t, "captures", "x.pcap"); p != filepath.Join(s, "captures", "x.pcap") {
		t.Errorf("Path = %q", p)
	}
}

func TestWalkUp(t *testing.T) {
	root := t.TempDir()
	s := fakeShared(t, root)
	pkg := filepath.Join(root, "ccslink", "v2g", "iso2")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CCSLINK_SHARED", "")
	t.Chdir(pkg)
	if d, ok := SharedDir(); !ok || d != s {
		t.Errorf("SharedDir() = %q, %v; want %q", d, ok, s)
	}
}

func TestAbsent(t *testing.T) {
	// A directory without schemas/ and captures/ is not the shared material.
	t.Setenv("CCSLINK_SHARED", t.TempDir())
	if d, ok := SharedDir(); ok {
		t.Fatalf("SharedDir() = %q, true", d)
	}
	var sub *testing.T
	t.Run("skips", func(t *testing.T) {
		sub = t
		Path(t, "vectors")
		t.Error("Path returned")
	})
	if !sub.Skipped() {
		t.Error("Path did not skip")
	}
}
