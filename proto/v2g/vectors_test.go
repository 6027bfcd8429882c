package v2g

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/exi"
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
			rows := readFrameTable(t, f)
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
	return strings.Contains(v.Schema, "2016") || strings.Contains(v.key(), "BUGGY") || v.Warning != "" || badVectors[v.key()] != ""
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
			t.Errorf("%s: cannot tell the schema", v.key())
			continue
		}
		if _, found := Lookup(schema); !found && !knownBad(v) {
			t.Errorf("%s: unknown schema %q", v.key(), schema)
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
				t.Errorf("%s: known-bad vector decoded and re-encoded", v.key())
			case err == nil:
				// Read as a shorter valid document: the rest is reported.
			case doc == nil && !errors.As(err, &xe):
				t.Errorf("%s: decode error without a bit position: %v", v.key(), err)
			}
			continue
		}
		ok++
		if _, rest, err := roundTrip(t, schema, b); err != nil {
			t.Errorf("%s (%s): %v", v.key(), schema, err)
		} else if len(rest) > 0 {
			t.Logf("%s: %d bytes after the document: %x", v.key(), len(rest), rest)
		}
	}
	t.Logf("%d vectors round-tripped, %d known-bad rejected", ok, bad)
}
