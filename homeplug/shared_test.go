package homeplug_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// sharedDir finds the shared material: $CCSLINK_SHARED, or a directory
// "shared" beside one of the package's parent directories (the repo root).
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CCSLINK_SHARED"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "captures")); err != nil {
			t.Fatalf("CCSLINK_SHARED=%s has no captures: %v", d, err)
		}
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		d := filepath.Join(dir, "shared")
		if _, err := os.Stat(filepath.Join(d, "captures")); err == nil {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared material not found: set CCSLINK_SHARED or put it at ../shared beside the repository")
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
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic, err := r.Peek(4)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var next func() ([]byte, error)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if ng.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("%s: link type %v, want Ethernet", path, ng.LinkType())
		}
		next = func() ([]byte, error) { d, _, err := ng.ReadPacketData(); return d, err }
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if pr.LinkType() != layers.LinkTypeEthernet {
			t.Fatalf("%s: link type %v, want Ethernet", path, pr.LinkType())
		}
		next = func() ([]byte, error) { d, _, err := pr.ReadPacketData(); return d, err }
	}
	var out []packet
	for i := 1; ; i++ {
		d, err := next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			t.Logf("%s: truncated after %d frames", filepath.Base(path), i-1)
			break
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, i, err)
		}
		out = append(out, packet{Index: i, Data: slices.Clone(d)})
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
