package v2g

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/exi"
	"github.com/ccslink/ccslink/internal/shared"
)

// roundTrip decodes b with the named codec and re-encodes the document.
// It returns the decoded document, the bytes after it, and the error of the
// first failing step.
func roundTrip(t *testing.T, schema string, b []byte) (any, []byte, error) {
	t.Helper()
	c, ok := Lookup(schema)
	if !ok {
		t.Fatalf("no codec %q", schema)
	}
	doc := c.New()
	n, err := c.Decode(b, doc)
	if err != nil {
		return nil, nil, err
	}
	out, err := c.Append(nil, doc)
	if err != nil {
		return doc, b[n:], err
	}
	if !bytes.Equal(out, b[:n]) {
		return doc, b[n:], errors.New("re-encoded bytes differ:\n got " + hex.EncodeToString(out) + "\nwant " + hex.EncodeToString(b[:n]))
	}
	return doc, b[n:], nil
}

// TestLabeledFrames decodes and re-encodes every EXI frame of the labelled
// frame tables (real cars and chargers, dSPACE reference sessions).
func TestLabeledFrames(t *testing.T) {
	dir := shared.Path(t, "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*_labeled*.tsv"))
	if len(files) == 0 {
		t.Fatal("no labelled frame tables in", dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rows := readTSV(t, f)
			counts := map[string]int{}
			failed, trailing := 0, 0
			for _, r := range rows {
				schema := r["schema"]
				if _, ok := Lookup(schema); !ok {
					continue // sdp, tls markers
				}
				b, err := hex.DecodeString(r["exi_hex"])
				if err != nil {
					t.Fatalf("%s frame %s: bad hex", r["file"], r["frame"])
				}
				counts[schema]++
				_, rest, err := roundTrip(t, schema, b)
				if err == nil && len(rest) > 0 {
					trailing++
					t.Logf("%s frame %s: %d bytes after the document: %x", r["file"], r["frame"], len(rest), rest)
				}
				if err != nil {
					failed++
					if failed <= 10 {
						t.Errorf("%s frame %s (%s %s): %v", r["file"], r["frame"], schema, r["message"], err)
					}
				}
			}
			t.Logf("frames per schema: %v, failed %d, with trailing bytes %d", counts, failed, trailing)
			if len(counts) == 0 {
				t.Fatal("no EXI frames found")
			}
		})
	}
}

func readTSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var head []string
	var rows []map[string]string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = cols
			continue
		}
		r := map[string]string{}
		for i, c := range cols {
			if i < len(head) {
				r[head[i]] = c
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// vector is one line of the jsonl vector files.
type vector struct {
	ID         string   `json:"id"`
	Schema     string   `json:"schema"`
	Hex        string   `json:"hex"`
	Meaning    string   `json:"meaning"`
	File       string   `json:"file"`
	Case       string   `json:"case"`
	Assertions []string `json:"meaning_assertions"`
	Warning    string   `json:"warning"`
}

func readVectors(t *testing.T) []vector {
	dir := shared.Path(t, "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var out []vector
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var v vector
			if err := json.Unmarshal(line, &v); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if v.ID == "" {
				v.ID = filepath.Base(v.File) + ": " + v.Case
			}
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatal("no vectors in", dir)
	}
	return out
}

// schemaOf tells which schema set a vector belongs to, and its EXI bytes.
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

// badVectors are vectors that are not valid documents of our schemas, each
// with the reason; the vector files say so in their notes.
var badVectors = map[string]string{
	// tux-evse's encoder wrote values the schema forbids.
	"iso2-test.rs: certificate_install_response": "eMAID of 23 characters, maxLength 15: decodes, Append refuses it",
	"iso2-test.rs: certificate_update_response":  "eMAID of 23 characters, maxLength 15: decodes, Append refuses it",
	"iso2-test.rs: ev_param_discovery_response":  "Multiplier 100, outside the unitMultiplierType range -3..3",
	"iso2-test.rs: ev_param_discovery_request":   "abstract EVChargeParameter head followed by a derived type's content",
	"iso2-test.rs: metering_outeipt_response":    "abstract EVSEStatus head followed by a derived type's content",
	// Bug-report excerpts that no decoder reads.
	"iso20-authorizationsetupres-ecog280": "rejected by libcbv2g (-151) and by Josev as well",
	"iso20-servicedetailres-cbexigen28":   "truncated excerpt of a stream",
}

// knownBad reports vectors the files mark as invalid or from other schemas.
func knownBad(v vector) bool {
	return strings.Contains(v.Schema, "2016") || strings.Contains(v.ID, "BUGGY") || v.Warning != "" || badVectors[v.ID] != ""
}

// TestVectors decodes and re-encodes every vector of the jsonl files; the
// known-bad ones must fail with a clear error.
func TestVectors(t *testing.T) {
	ok, bad := 0, 0
	for _, v := range readVectors(t) {
		schema, b, known := schemaOf(v)
		if strings.HasSuffix(schema, "fragment") {
			continue // see TestFragments
		}
		if !known {
			t.Errorf("%s: cannot tell the schema", v.ID)
			continue
		}
		if _, found := Lookup(schema); !found && !knownBad(v) {
			t.Errorf("%s: unknown schema %q", v.ID, schema)
			continue
		}
		if knownBad(v) {
			bad++
			c, found := Lookup(schema)
			if !found {
				continue // no codec for that draft schema: nothing decodes it
			}
			doc, rest, err := roundTrip(t, c.Name, b)
			var xe *exi.Error
			switch {
			case err == nil && len(bytes.Trim(rest, "\x00")) == 0:
				t.Errorf("%s: known-bad vector decoded and re-encoded", v.ID)
			case err == nil:
				// Read as a shorter valid document: the rest is reported.
			case doc == nil && !errors.As(err, &xe):
				t.Errorf("%s: decode error without a bit position: %v", v.ID, err)
			}
			continue
		}
		ok++
		if _, rest, err := roundTrip(t, schema, b); err != nil {
			t.Errorf("%s (%s): %v", v.ID, schema, err)
		} else if len(rest) > 0 {
			t.Logf("%s: %d bytes after the document: %x", v.ID, len(rest), rest)
		}
	}
	t.Logf("%d vectors round-tripped, %d known-bad rejected", ok, bad)
}
