package homeplug_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/tools/capture"
)

// sharedDir finds the shared material or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := findShared()
	if err != nil {
		t.Fatal(err)
	}
	if d == "" {
		t.Skip("shared material not found: set CCSLINK_SHARED or put it at ../shared beside the repository")
	}
	return d
}

// findShared returns $CCSLINK_SHARED, or a directory "shared" beside one of
// the package's parent directories (the repo root), or "" if there is none.
func findShared() (string, error) {
	if d := os.Getenv("CCSLINK_SHARED"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "captures")); err != nil {
			return "", fmt.Errorf("CCSLINK_SHARED=%s has no captures: %w", d, err)
		}
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		d := filepath.Join(dir, "shared")
		if _, err := os.Stat(filepath.Join(d, "captures")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// captureFiles lists every pcap and pcapng file under shared/captures.
func captureFiles(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(sharedDir(t), "captures")
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no captures under %s", root)
	}
	slices.Sort(files)
	return files
}

// captureFile finds one capture by the end of its path.
func captureFile(t testing.TB, suffix string) string {
	t.Helper()
	for _, f := range captureFiles(t) {
		if strings.HasSuffix(f, suffix) {
			return f
		}
	}
	t.Fatalf("capture %s not found", suffix)
	return ""
}

// packet is one frame of a capture; Index counts from 1 like Wireshark.
type packet struct {
	Index int
	Data  []byte
}

// readCapture returns every frame of a pcap or pcapng file. A capture cut
// off in the middle of a frame (one of the EVerest files) ends there.
func readCapture(t testing.TB, path string) []packet {
	t.Helper()
	c, err := capture.Open(path)
	if errors.Is(err, io.ErrUnexpectedEOF) && c != nil {
		t.Logf("%s: truncated after %d frames", filepath.Base(path), len(c.Frames()))
	} else if err != nil {
		t.Fatal(err)
	}
	if c.Skipped() != 0 {
		t.Fatalf("%s: %d frames not Ethernet", path, c.Skipped())
	}
	out := make([]packet, 0, len(c.Frames()))
	for i, f := range c.Frames() {
		out = append(out, packet{Index: i + 1, Data: f.Data})
	}
	return out
}

// homePlugFrames returns the frames of ethertype 0x88E1.
func homePlugFrames(t testing.TB, path string) []packet {
	t.Helper()
	var out []packet
	for _, p := range readCapture(t, path) {
		if len(p.Data) >= 14 && p.Data[12] == 0x88 && p.Data[13] == 0xe1 {
			out = append(out, p)
		}
	}
	return out
}
