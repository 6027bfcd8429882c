package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/tools/sim"
)

// bundleIndex lists a bundle's files, for tests.
func bundleIndex(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(h.Name, "ccslink-bundle/")] = data
	}
}

// TestBundle: a real recording and session record in a state directory
// end up in the bundle, and --hash-evccid leaves no car ID behind.
func TestBundle(t *testing.T) {
	state := t.TempDir()
	p, _ := evcc.Lookup("ioniq")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := sim.Run(ctx, sim.Config{Car: p, SkipDelays: true, RecordDir: filepath.Join(state, "recordings")})
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(res.Record)
	os.WriteFile(filepath.Join(state, "sessions.jsonl"), append(line, '\n'), 0o600)
	cfg := filepath.Join(state, "ccslink.yaml")
	os.WriteFile(cfg, []byte("interface: lo\nhttp:\n  listen: 127.0.0.1:8080\n  token: s3cret-s3cret-s3cret\n"), 0o600)

	for _, hash := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "b.tar.gz")
		args := []string{"bundle", "--config", cfg, "--state-dir", state, "-o", out}
		if hash {
			args = append(args, "--hash-evccid")
		}
		var so, se bytes.Buffer
		if code := run(args, nil, &so, &se); code != 0 {
			t.Fatalf("exit %d: %s%s", code, so.String(), se.String())
		}
		files, err := bundleIndex(out)
		if err != nil {
			t.Fatal(err)
		}
		var pcaps, timelines int
		for name, data := range files {
			switch {
			case strings.HasSuffix(name, ".pcap"):
				pcaps++
			case strings.HasPrefix(name, "recordings/") && strings.HasSuffix(name, ".txt"):
				timelines++
				if !bytes.Contains(data, []byte("93")) {
					t.Errorf("timeline %s lacks the SoC:\n%s", name, data)
				}
			}
			if bytes.Contains(data, []byte("s3cret")) {
				t.Errorf("%s holds the HTTP token", name)
			}
			if hash && (bytes.Contains(data, []byte("0465650064c3")) || bytes.Contains(data, []byte("04:65:65:00:64:c3")) || strings.Contains(name, "0465650064c3")) {
				t.Errorf("%s holds the car's ID despite --hash-evccid", name)
			}
		}
		for _, want := range []string{"README.txt", "config.yaml", "doctor.txt", "sessions.jsonl"} {
			if files[want] == nil {
				t.Errorf("hash=%v: no %s in %v", hash, want, keys(files))
			}
		}
		if timelines != 1 || pcaps != map[bool]int{false: 1, true: 0}[hash] {
			t.Errorf("hash=%v: %d timelines, %d pcaps", hash, timelines, pcaps)
		}
		if hash && !bytes.Contains(files["sessions.jsonl"], []byte(string(hashIDs([]byte("0465650064c3"))))) {
			t.Errorf("the hashed ID is not in the sessions: %s", files["sessions.jsonl"])
		}
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
