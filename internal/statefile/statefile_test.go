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

// TestLoad: a missing file is the zero value, a good one is parsed, a
// damaged one is moved aside with a CorruptError that words it.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "n.json")
	parse := func(b []byte) (int, error) {
		if string(b) != "42" {
			return 0, errors.New("not 42")
		}
		return 42, nil
	}
	load := func() (int, error) { return Load(path, 4, "the numbers kept", "they will be counted again", parse) }
	if n, err := load(); n != 0 || err != nil {
		t.Fatalf("missing: %d %v", n, err)
	}
	if err := Write(path, []byte("42")); err != nil {
		t.Fatal(err)
	}
	if n, err := load(); n != 42 || err != nil {
		t.Fatalf("good: %d %v", n, err)
	}
	if err := Write(path, []byte("41")); err != nil {
		t.Fatal(err)
	}
	n, err := load()
	var ce *CorruptError
	want := "the numbers kept in " + path + " are damaged (not 42): kept as " + path + ".corrupt, starting afresh; they will be counted again"
	if n != 0 || !errors.As(err, &ce) || ce.Aside != path+".corrupt" || err.Error() != want {
		t.Fatalf("damaged: %d %v", n, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the damaged file is still at %s: %v", path, err)
	}
	if got, err := os.ReadFile(path + ".corrupt"); err != nil || string(got) != "41" {
		t.Errorf("aside: %q %v", got, err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := load(); err == nil || errors.As(err, &ce) || err.Error()[:25] != "cannot read the numbers k" {
		t.Errorf("unreadable: %v", err)
	}
}
