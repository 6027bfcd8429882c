package v2g

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

// The shared test material: labelled frame tables (*_labeled*.tsv) and
// vector files (*.jsonl), read at run time, never copied into the repository.

// vector is one line of the jsonl vector files.
type vector struct {
	ID      string   `json:"id"`
	Schema  string   `json:"schema"`
	Hex     string   `json:"hex"`
	Meaning string   `json:"meaning"`
	File    string   `json:"file"`
	Case    string   `json:"case"`
	Checks  []string `json:"meaning_assertions"`
	Warning string   `json:"warning"`
}

// key names a vector: the id of a curated vector, else "<file name>: <case>".
func (v vector) key() string {
	if v.ID != "" {
		return v.ID
	}
	return path.Base(v.File) + ": " + v.Case
}

// loadVectors reads every jsonl file of the shared vectors directory.
func loadVectors(dir string) ([]vector, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var out []vector
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var v vector
			if err := json.Unmarshal(line, &v); err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no vectors in %s", dir)
	}
	return out, nil
}

// readVectors returns the shared vectors, or skips the test without them.
func readVectors(t testing.TB) []vector {
	t.Helper()
	vs, err := loadVectors(shared.Path(t, "vectors"))
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// schemaOf tells which schema set a vector belongs to, and its EXI bytes
// (without a V2GTP header).
func schemaOf(v vector) (schema string, b []byte, known bool) {
	b, _ = hex.DecodeString(v.Hex)
	if len(b) > 8 && b[0] == 0x01 && b[1] == 0xfe {
		b = b[8:]
	}
	switch {
	case v.Schema != "":
		return v.Schema, b, true
	case strings.Contains(v.File, "app_hand"):
		return "apphand", b, true
	case strings.Contains(v.File, "/din/"):
		return "din", b, true
	case strings.Contains(v.File, "iso20/ac_"):
		return "iso20ac", b, true
	case strings.Contains(v.File, "iso20/dc_"):
		return "iso20dc", b, true
	case strings.Contains(v.File, "iso20/"):
		return "iso20", b, true
	case len(b) > 1 && b[1] == 0x98:
		return "iso2", b, true
	case len(b) > 1 && b[1]&0x80 == 0:
		return "apphand", b, true
	}
	return "", b, false
}

// readFrameTable reads a tab-separated table with a header line.
func readFrameTable(t testing.TB, path string) []map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var head []string
	var rows []map[string]string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		cols := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if head == nil {
			head = cols
			continue
		}
		r := make(map[string]string, len(head))
		for i, c := range cols {
			if i < len(head) {
				r[head[i]] = c
			}
		}
		rows = append(rows, r)
	}
	return rows
}
