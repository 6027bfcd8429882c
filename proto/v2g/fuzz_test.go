package v2g

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/exi"
)

// One fuzz target per schema set's decoder. Each iteration checks:
//
//   - decoding never panics; a failure is an *exi.Error whose bit position
//     lies inside the input;
//   - no iteration hangs: a watchdog panics (killing the worker, so the
//     fuzzer saves the input) when one takes longer than fuzzHang;
//   - decoding allocates at most fuzzAllocPerByte bytes per input byte plus
//     fuzzAllocSlack (runtime.MemStats.TotalAlloc around the one Unmarshal),
//     so a hostile length field cannot make it allocate megabytes;
//   - a decoded document marshals to JSON, and encoding it either fails with
//     an error or gives bytes that decode to the same JSON.
//
// Seeds are every frame and vector of the schema set in ../shared/vectors,
// plus a few documents of our own (fuzzFallback) so the targets run without
// the shared material. Run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzDIN$' -fuzztime 60s ./proto/v2g/

const (
	// A decoded element costs a few dozen bytes of Go struct for a few bits
	// of input; strings and binaries cost their length. 64 bytes per input
	// byte covers both with room; the slack covers the Document itself, the
	// reader's string tables and the runtime's own bookkeeping.
	fuzzAllocPerByte = 64
	fuzzAllocSlack   = 64 << 10

	// An iteration takes microseconds; seconds mean a loop that does not
	// end (generous, for a loaded machine).
	fuzzHang = 10 * time.Second
)

// fuzzFallback are documents written for these tests (our encoder's output
// for hand-made JSON, or the examples), one list per schema set.
var fuzzFallback = map[string][]string{
	"apphand": {
		"8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040", // SAP request, DIN
		"80400040", // SAP response, SchemaID 1
	},
	"din": {
		"809a02000000000000000011d01811959401930c00",                                                 // SessionSetupReq
		"809a02004080c1014181c210719000000ba04061a01e04070c84c02050a02000c243836804030909c0e05e0a60", // ChargeParameterDiscoveryReq
	},
	"iso2": {
		"809802022669991e4a686c109442418200c80840a01f000c203e804003000000", // ChargeParameterDiscoveryReq
		// SessionStopReq signed with wildcard and mixed content in its Transform
		"809800400a80d860320403624601b1900575726e3a7802794409e80cc781ba54010801bc181baa403644010012020087c000",
		// CertificateInstallationReq, the second root certificate's serial -(20 octets)
		"809802004080c1014181c2105053a3abc16b2bb39b280c020406080a0c009496f542e627a680d2090035499591c195cdacb989e9a06ef6febf222ba62a70fa252c7c6038af3aa5ae7a7079c5c400",
	},
	"xmldsig": {
		// Transform with two XPath Filter 2.0 elements (wildcard content), see TestWildcardTransformBits
		"80a8ada1d1d1c0e8bcbddddddcb9dcccb9bdc99cbcc8c0c0c8bcc0d8bde1b5b191cda59cb599a5b1d195c8c8829687474703a2f2f7777772e77332e6f72672f323030322f30362f786d6c647369672d66696c74657232065850617468483a334b63a32b905b4b73a32b939b2b1ba70e2f2f546f42655369676e65641c008539bab13a3930b1ba01a5e5ea6d2cedcc2e8eae4ca40",
	},
	"iso2 fragment": {
		"80040152510c40829b7b6b2902930b73237b6902230ba309e8",       // ISO 15118-2 Annex J AuthorizationReq fragment
		"80ec0202b4b219c00491114e10504c504c908cd0cd110d514dbd3d00", // eMAID, relaxed grammar, see TestRelaxedEMAIDFragment
	},
	"iso20": {
		"808c0400000000000000000c0bfe1b606209aba6a4ab1818181818181818181818181880", // SessionSetupReq
		"80900400810182028303840c1bfe1b6062040391114a90d0d4ca914c0c0c0c40",         // SessionSetupRes
		"807c0400810182028303840c2bfe1b606200200400a4",                             // ServiceDiscoveryReq
	},
	"iso20ac": {
		"80080400810182028303840cdbfe1b6062015184524800e83928", // AC_ChargeLoopReq
		"800c0400810182028303840cebfe1b6062008900",             // AC_ChargeLoopRes
	},
	"iso20dc": {
		"80340400810182028303840cdbfe1b60620152403f84d8f919000fa08009a03280", // DC_ChargeLoopReq
		"80380400810182028303840cebfe1b60620064003e02002400c00090",           // DC_ChargeLoopRes
	},
	"iso20acdp": {
		"80180400810182028303840cdbfe1b606240",                 // ACDP_VehiclePositioningReq
		"801c0400810182028303840cebfe1b6062001110b02200000000", // ACDP_VehiclePositioningRes
		"80100400810182028303840cfbfe1b606220081002761374",     // ACDP_SystemStatusReq
	},
	"iso20wpt": {
		"808c0400810182028303840cdbfe1b60622124421002cafe20", // WPT_PairingReq
		"80900400810182028303840cebfe1b606200004910a0",       // WPT_PairingRes
		"80640400810182028303840cfbfe1b6062007f07d048",       // WPT_AlignmentCheckReq
	},
}

// fuzzSeeds returns the EXI documents of one schema set in the shared frame
// tables and vector files (none when the shared material is absent).
func fuzzSeeds(tb testing.TB, schema string) [][]byte {
	dir, ok := shared.SharedDir()
	if !ok {
		tb.Logf("shared material not found: seeding %s from its built-in documents only", schema)
		return nil
	}
	var out [][]byte
	add := func(h string) {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) == 0 {
			return
		}
		if len(b) > 8 && b[0] == 0x01 && b[1] == 0xfe { // V2GTP header
			b = b[8:]
		}
		out = append(out, b)
	}
	tables, _ := filepath.Glob(filepath.Join(dir, "vectors", "*_labeled*.tsv"))
	for _, f := range tables {
		for _, r := range readFrameTable(tb, f) {
			if c, ok := Lookup(r["schema"]); ok && c.Name == schema {
				add(r["exi_hex"])
			}
		}
	}
	vs, err := loadVectors(filepath.Join(dir, "vectors"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range vs {
		if s, _, ok := schemaOf(v); ok {
			if c, ok := Lookup(s); ok && c.Name == schema {
				add(v.Hex) // known-bad vectors too: they are interesting inputs
			}
		}
	}
	return out
}

func fuzzCodec(f *testing.F, schema string) {
	c, ok := Lookup(schema)
	if !ok {
		f.Fatalf("no codec %q", schema)
	}
	fuzzWith(f, c)
}

// fuzzFragment fuzzes the fragment codec of a schema set.
func fuzzFragment(f *testing.F, schema string) {
	c, ok := Lookup(schema)
	if !ok || c.Fragment == nil {
		f.Fatalf("no fragment codec %q", schema)
	}
	fuzzWith(f, *c.Fragment)
}

func fuzzWith(f *testing.F, c Codec) {
	schema := c.Name
	seen := map[string]bool{}
	addSeed := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			f.Add(b)
		}
	}
	for _, h := range fuzzFallback[c.Name] {
		b, err := hex.DecodeString(h)
		if err != nil {
			f.Fatal(err)
		}
		addSeed(b)
	}
	for _, b := range fuzzSeeds(f, c.Name) {
		addSeed(b)
	}
	// One Decoder for all the inputs of a run: each decodes over what the
	// inputs before it left, as a session's messages do.
	// (Fragment codecs have no Decoder.)
	var reused func(b []byte) (doc any, n int, err error)
	if c.NewDecoder != nil {
		reused = c.NewDecoder()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(fuzzHang, func() {
			panic(fmt.Sprintf("%s: an iteration on %x has run for %v", schema, data, fuzzHang))
		})
		defer watchdog.Stop()
		doc := c.New()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, err := c.Decode(data, doc)
		runtime.ReadMemStats(&after)
		if a := after.TotalAlloc - before.TotalAlloc; a > uint64(fuzzAllocPerByte*len(data)+fuzzAllocSlack) {
			t.Fatalf("decoding %d bytes allocated %d bytes (bound %d per input byte + %d)",
				len(data), a, fuzzAllocPerByte, fuzzAllocSlack)
		}
		if reused != nil {
			rdoc, rn, rerr := reused(data)
			if rn != n || fmt.Sprint(rerr) != fmt.Sprint(err) {
				t.Fatalf("reused Decoder: %d, %v; Unmarshal: %d, %v", rn, rerr, n, err)
			}
			if jr, jf := mustJSON(t, rdoc), mustJSON(t, doc); jr != jf {
				t.Fatalf("reused Decoder decoded %x as\n%s\nUnmarshal as\n%s", data, jr, jf)
			}
		}
		if err != nil {
			var xe *exi.Error
			if !errors.As(err, &xe) {
				t.Fatalf("decode error without a bit position: %v", err)
			}
			if xe.Bit < 0 || xe.Bit > 8*len(data) {
				t.Fatalf("decode error at bit %d of a %d-bit input: %v", xe.Bit, 8*len(data), err)
			}
			return
		}
		if n <= 0 || n > len(data) {
			t.Fatalf("document of %d bytes in %d bytes of input", n, len(data))
		}
		j1, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("decoded document does not marshal to JSON: %v", err)
		}
		out, err := c.Append(nil, doc)
		if err != nil {
			return // refusing to encode it is allowed; panicking is not
		}
		doc2 := c.New()
		n2, err := c.Decode(out, doc2)
		if err != nil {
			t.Fatalf("re-encoded %x does not decode: %v\ninput %x\n%s", out, err, data, j1)
		}
		if n2 != len(out) {
			t.Fatalf("re-encoded document takes %d of its %d bytes", n2, len(out))
		}
		j2, err := json.Marshal(doc2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(j1, j2) {
			t.Fatalf("decode(encode(decode(x))) differs from decode(x)\ninput %x\nre-encoded %x\n first %s\nsecond %s", data, out, j1, j2)
		}
	})
}

func FuzzApphand(f *testing.F)   { fuzzCodec(f, "apphand") }
func FuzzDIN(f *testing.F)       { fuzzCodec(f, "din") }
func FuzzISO2(f *testing.F)      { fuzzCodec(f, "iso2") }
func FuzzISO20(f *testing.F)     { fuzzCodec(f, "iso20") }
func FuzzISO20AC(f *testing.F)   { fuzzCodec(f, "iso20ac") }
func FuzzISO20DC(f *testing.F)   { fuzzCodec(f, "iso20dc") }
func FuzzISO20ACDP(f *testing.F) { fuzzCodec(f, "iso20acdp") }
func FuzzISO20WPT(f *testing.F)  { fuzzCodec(f, "iso20wpt") }

// FuzzISO2Fragment decodes hostile ISO-2 fragments, what signatures digest
// (the relaxed element fragment grammar of eMAID among them).
func FuzzISO2Fragment(f *testing.F) { fuzzFragment(f, "iso2") }

// TestFuzzFallbackSeeds: the built-in seed documents decode and re-encode
// byte for byte, so the targets start from valid documents without ../shared.
func TestFuzzFallbackSeeds(t *testing.T) {
	for schema, list := range fuzzFallback {
		c, ok := Lookup(strings.TrimSuffix(schema, " fragment"))
		if ok && strings.HasSuffix(schema, " fragment") {
			ok = c.Fragment != nil
			if ok {
				c = *c.Fragment
			}
		}
		if !ok {
			t.Fatalf("no codec %q", schema)
		}
		for _, h := range list {
			b, _ := hex.DecodeString(h)
			doc := c.New()
			n, err := c.Decode(b, doc)
			if err != nil {
				t.Errorf("%s %s: %v", schema, h, err)
				continue
			}
			out, err := c.Append(nil, doc)
			if err != nil || !bytes.Equal(out, b[:n]) || n != len(b) {
				t.Errorf("%s %s: re-encoded %x (%v), %d of %d bytes", schema, h, out, err, n, len(b))
			}
		}
	}
}
