package v2g

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
)

// xpathDoc is a DIN SessionStopReq whose header Signature has one Transform
// holding the given XPath strings.
func xpathDoc(xpaths []string) *din.Document {
	return &din.Document{V2G_Message: &din.V2G_Message{
		Header: din.MessageHeaderType{SessionID: []byte{0}, Signature: &xmldsig.SignatureType{
			SignedInfo: xmldsig.SignedInfoType{
				CanonicalizationMethod: xmldsig.CanonicalizationMethodType{Algorithm: "c"},
				SignatureMethod:        xmldsig.SignatureMethodType{Algorithm: "s"},
				Reference: []xmldsig.ReferenceType{{
					Transforms:   &xmldsig.TransformsType{Transform: []xmldsig.TransformType{{Algorithm: "t", XPath: xpaths}}},
					DigestMethod: xmldsig.DigestMethodType{Algorithm: "d"},
					DigestValue:  []byte{0},
				}},
			},
			SignatureValue: xmldsig.SignatureValueType{Value: []byte{0}},
		}},
		Body: din.BodyType{SessionStopReq: &din.SessionStopType{}},
	}}
}

// firstDiff returns the first bit where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	for i := 0; i < 8*len(a) && i < 8*len(b); i++ {
		if (a[i/8]^b[i/8])<<(i%8)&0x80 != 0 {
			return i
		}
	}
	return -1
}

// dinStringHits builds the document of k XPath literals "a" followed by k
// local string-table hits on them, which our encoder never writes: it
// encodes 2k literals and replaces each of the last k (16 bits: length 1+2,
// then 'a') by a hit (length 0, then the index in bitsFor(k) bits): index 0
// each, or with spread the j-th hit index j.
func dinStringHits(t testing.TB, k int, spread bool) []byte {
	t.Helper()
	xp := make([]string, 2*k)
	for i := range xp {
		xp[i] = "a"
	}
	enc := func() []byte {
		b, err := din.Marshal(xpathDoc(xp))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain := enc()
	// Where the literals are: 'a' (0x61) and 'b' (0x62) differ from the
	// 15th bit of a literal on. Every item of the list takes the same bits.
	at := func(j int) int {
		xp[j] = "b"
		defer func() { xp[j] = "a" }()
		return firstDiff(plain, enc()) - 14
	}
	first, step := at(k), at(k+1)-at(k)
	if last := at(2*k - 1); last != first+(k-1)*step {
		t.Fatalf("XPath literals not evenly spaced: first at %d, step %d, last at %d", first, step, last)
	}
	var r exi.Reader
	r.Reset(plain)
	var w exi.Writer
	w.Reset(nil)
	copyBits := func(n int) {
		for ; n > 0; n-- {
			v, _ := r.Bits(1)
			w.Bits(v, 1)
		}
	}
	width := 0
	for 1<<width < k {
		width++
	}
	copyBits(first)
	for j := range k {
		r.Bits(16)
		w.Uint(0)
		if spread {
			w.Bits(uint32(j), width)
		} else {
			w.Bits(0, width)
		}
		copyBits(step - 16)
	}
	copyBits(8*len(plain) - r.Pos())
	return w.Bytes()
}

// TestStringHitsDecode: the hits decode to the strings they name, and the
// document re-encodes as literals.
func TestStringHitsDecode(t *testing.T) {
	b := dinStringHits(t, 64, true)
	var d din.Document
	n, err := din.Unmarshal(b, &d)
	if err != nil || n != len(b) {
		t.Fatalf("decoded %d of %d bytes: %v", n, len(b), err)
	}
	xp := d.V2G_Message.Header.Signature.SignedInfo.Reference[0].Transforms.Transform[0].XPath
	if len(xp) != 128 || strings.Join(xp, "") != strings.Repeat("a", 128) {
		t.Errorf("XPath %q, want 128 times a", xp)
	}
	out, err := din.Marshal(&d)
	want, _ := din.Marshal(xpathDoc(xp))
	if err != nil || !bytes.Equal(out, want) {
		t.Errorf("re-encoded %x, %v", out, err)
	}
}

// TestStringHitsLinear: decoding k literals and k hits allocates in
// proportion to the input, however large k is (each hit used to scan every
// string seen and copy its qname's).
func TestStringHitsLinear(t *testing.T) {
	perByte := func(k int) float64 {
		b := dinStringHits(t, k, false)
		var d din.Document
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := din.Unmarshal(b, &d)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(b))
	}
	small, large := perByte(100), perByte(1000)
	t.Logf("allocated bytes per input byte: k=100 %.1f, k=1000 %.1f", small, large)
	if large > 1.5*small || large > fuzzAllocPerByte {
		t.Errorf("decoding allocates %.1f bytes per input byte at k=100, %.1f at k=1000: not linear", small, large)
	}
}

// TestStringHitsSeed: the FuzzDIN corpus holds the k=64 document (343
// bytes), which broke the fuzzer's allocation bound before hits took
// constant time.
func TestStringHitsSeed(t *testing.T) {
	b := dinStringHits(t, 64, false)
	if len(b) != 343 {
		t.Errorf("k=64 document of %d bytes, want 343", len(b))
	}
	want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	got, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDIN", "string-table-hits"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("testdata/fuzz/FuzzDIN/string-table-hits is not the k=64 document; write it with\n%s", want)
	}
}
