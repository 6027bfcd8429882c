package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReadMoveAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cars.json")
	if _, err := Read(path, 10); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for _, data := range []string{"first\n", "second, longer\n"} {
		if err := Write(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, err := Read(path, 100); err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
	}
	if got, err := Read(path, 4); err != nil || string(got) != "secon" {
		t.Fatalf("bounded read %q, %v; want the bound and one more byte", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	aside, err := MoveAside(path)
	if err != nil || aside != path+".corrupt" {
		t.Fatalf("MoveAside: %q, %v", aside, err)
	}
	if got, err := os.ReadFile(aside); err != nil || string(got) != "second, longer\n" {
		t.Fatalf("aside: %q, %v", got, err)
	}
	if err := Write(filepath.Join(dir, "gone", "x.json"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("write into a missing directory: %v", err)
	}
}
