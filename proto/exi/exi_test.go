package exi_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/ccslink/ccslink/proto/exi"
)

// writeBits writes (value, width) pairs and returns the padded bytes.
func writeBits(pairs ...[2]uint32) []byte {
	var w exi.Writer
	w.Reset(nil)
	for _, p := range pairs {
		w.Bits(p[0], int(p[1]))
	}
	return w.Bytes()
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantBytes(t *testing.T, what string, got []byte, wantHex string) {
	t.Helper()
	if h := hex.EncodeToString(got); h != wantHex {
		t.Errorf("%s: got %s, want %s", what, h, wantHex)
	}
}

// exiErr returns the *exi.Error in err, failing the test if there is none.
func exiErr(t *testing.T, err error) *exi.Error {
	t.Helper()
	var xe *exi.Error
	if !errors.As(err, &xe) {
		t.Fatalf("error %v (%T) carries no *exi.Error", err, err)
	}
	return xe
}

func TestWriterBitsAcrossBytes(t *testing.T) {
	cases := []struct {
		pairs [][2]uint32
		want  string
	}{
		// 101 | 1100110 | 000011110000 -> 10111001 10000011 110000(00)
		{[][2]uint32{{0b101, 3}, {0b1100110, 7}, {0x0F0, 12}}, "b983c0"},
		{[][2]uint32{{1, 1}}, "80"},
		{[][2]uint32{{0, 1}, {0xFF, 8}}, "7f80"},
		{[][2]uint32{{0xDEADBEEF, 32}}, "deadbeef"},
		{[][2]uint32{{1, 1}, {0xDEADBEEF, 32}, {1, 1}}, "ef56df77c0"},
		{[][2]uint32{{0x3FF, 10}, {0, 6}, {0x5, 3}}, "ffc0a0"},
		// Width 0 writes nothing.
		{[][2]uint32{{1, 0}, {0xAB, 8}}, "ab"},
		// Bits above the width are ignored.
		{[][2]uint32{{0xFF, 4}}, "f0"},
	}
	for _, c := range cases {
		wantBytes(t, "Writer.Bits", writeBits(c.pairs...), c.want)
	}
}

func TestReaderBitsAcrossBytes(t *testing.T) {
	var r exi.Reader
	r.Reset(mustHex(t, "b983c0"))
	for i, want := range []struct {
		n int
		v uint32
	}{{3, 0b101}, {7, 0b1100110}, {12, 0x0F0}, {2, 0}} {
		got, err := r.Bits(want.n)
		if err != nil || got != want.v {
			t.Fatalf("read %d: Bits(%d) = %#x, %v; want %#x", i, want.n, got, err, want.v)
		}
	}
	if r.Pos() != 24 || r.Len() != 3 {
		t.Errorf("Pos %d Len %d, want 24 3", r.Pos(), r.Len())
	}
	if _, err := r.Bits(1); !errors.Is(err, exi.ErrEOF) {
		t.Errorf("read past the end: %v, want ErrEOF", err)
	} else if xe := exiErr(t, err); xe.Bit != 24 {
		t.Errorf("EOF error at bit %d, want 24", xe.Bit)
	}

	// Every width at every offset, against a reference bit extraction, with
	// and without bytes beyond the window (slow and fast paths).
	src := mustHex(t, "c3a5695a0ff0137ebd4296e1c8")
	bit := func(i int) uint32 { return uint32(src[i/8]>>(7-i%8)) & 1 }
	for off := 0; off < 16; off++ {
		for n := 0; n <= 32; n++ {
			for _, cut := range []int{len(src), (off + n + 7) / 8} {
				var want uint32
				for i := off; i < off+n; i++ {
					want = want<<1 | bit(i)
				}
				r.Reset(src[:cut])
				if _, err := r.Bits(off); err != nil {
					t.Fatal(err)
				}
				got, err := r.Bits(n)
				if err != nil || got != want {
					t.Fatalf("offset %d width %d (%d bytes): got %#x, %v; want %#x", off, n, cut, got, err, want)
				}
				if r.Pos() != off+n {
					t.Fatalf("offset %d width %d: Pos %d", off, n, r.Pos())
				}
			}
		}
	}
}

func TestBitsRoundTrip(t *testing.T) {
	widths := []int{1, 7, 3, 32, 5, 8, 16, 2, 31, 1, 9}
	vals := []uint32{1, 0x55, 6, 0x89ABCDEF, 0x1F, 0x80, 0xBEEF, 2, 0x7FFFFFFF, 0, 0x1A5}
	var w exi.Writer
	w.Reset([]byte{0xEE}) // appends after existing bytes
	for i := range widths {
		w.Bits(vals[i], widths[i])
	}
	b := w.Bytes()
	if b[0] != 0xEE {
		t.Fatalf("Writer overwrote dst: %x", b)
	}
	var r exi.Reader
	r.Reset(b[1:])
	for i := range widths {
		v, err := r.Bits(widths[i])
		if err != nil || v != vals[i] {
			t.Fatalf("item %d: got %#x, %v; want %#x", i, v, err, vals[i])
		}
	}
}

func TestUint(t *testing.T) {
	cases := []struct {
		v    uint64
		want string
	}{
		{0, "00"},
		{1, "01"},
		{127, "7f"},
		{128, "8001"},
		{2000, "d00f"},
		{16383, "ff7f"},
		{16384, "808001"},
		{math.MaxUint32, "ffffffff0f"},
		{math.MaxUint64, "ffffffffffffffffff01"},
	}
	for _, c := range cases {
		var w exi.Writer
		w.Reset(nil)
		w.Uint(c.v)
		wantBytes(t, "Uint", w.Bytes(), c.want)

		var r exi.Reader
		r.Reset(mustHex(t, c.want))
		got, err := r.Uint()
		if err != nil || got != c.v {
			t.Errorf("read %s: %d, %v; want %d", c.want, got, err, c.v)
		}
		if r.Pos() != len(c.want)*4 {
			t.Errorf("read %s: Pos %d", c.want, r.Pos())
		}
	}
	// Not on a byte boundary: 1 bit, then 2000.
	var w exi.Writer
	w.Reset(nil)
	w.Bits(1, 1)
	w.Uint(2000)
	wantBytes(t, "1 bit + Uint(2000)", w.Bytes(), "e80780") // 1 11010000 00001111 0000000
}

func TestUintOverflow(t *testing.T) {
	for _, in := range []string{
		"ffffffffffffffffff02",   // 10th group holds bit 64
		"ffffffffffffffffff7f",   // 10th group holds bits 64..69
		"ffffffffffffffffff8100", // an 11th group
		"ffffffffffffffffffff01", // 11 groups
	} {
		var r exi.Reader
		r.Reset(mustHex(t, "00"+in)) // one byte before: the error names the integer's start
		if _, err := r.Bits(8); err != nil {
			t.Fatal(err)
		}
		_, err := r.Uint()
		if err == nil {
			t.Errorf("%s: no error", in)
			continue
		}
		if xe := exiErr(t, err); xe.Bit != 8 {
			t.Errorf("%s: error at bit %d, want 8: %v", in, xe.Bit, err)
		}
	}
	// Truncated: the continuation bit promises another group.
	var r exi.Reader
	r.Reset(mustHex(t, "ff"))
	if _, err := r.Uint(); !errors.Is(err, exi.ErrEOF) {
		t.Errorf("truncated Uint: %v, want ErrEOF", err)
	}
}

func TestInt(t *testing.T) {
	cases := []struct {
		v    int64
		want string // sign bit, then the magnitude (|v|-1 when negative), padded
	}{
		{0, "0000"},
		{1, "0080"},
		{-1, "8000"}, // 1 00000000
		{-2, "8080"}, // 1 00000001
		{63, "1f80"},
		{-128, "bf80"},   // 1 01111111
		{-129, "c00080"}, // 1 10000000 00000001
		{math.MaxInt64, "7fffffffffffffffbf80"},
		{math.MinInt64, "ffffffffffffffffbf80"},
	}
	for _, c := range cases {
		var w exi.Writer
		w.Reset(nil)
		w.Int(c.v)
		got := w.Bytes()
		wantBytes(t, "Int", got, c.want)

		var r exi.Reader
		r.Reset(got)
		v, err := r.Int()
		if err != nil || v != c.v {
			t.Errorf("Int %d: read back %d, %v", c.v, v, err)
		}
	}
	// A magnitude beyond int64: sign 0, then 2^64-1.
	var r exi.Reader
	r.Reset(mustHex(t, "7fffffffffffffffff8080"))
	if _, err := r.Int(); err == nil {
		t.Error("Int of 2^64-1 magnitude: no error")
	} else if xe := exiErr(t, err); xe.Bit != 0 {
		t.Errorf("Int overflow at bit %d, want 0", xe.Bit)
	}
}

// wantNotes checks the notes of r against "bit field: msg" lines.
func wantNotes(t *testing.T, r *exi.Reader, want ...string) {
	t.Helper()
	var got []string
	for _, n := range r.Notes() {
		got = append(got, fmt.Sprintf("%d %s: %s", n.Bit, n.Field, n.Msg))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRanges(t *testing.T) {
	var r exi.Reader
	r.Reset(mustHex(t, "0a"))
	if v, err := r.UintRange(10, 10, 255, "f"); err != nil || v != 10 {
		t.Errorf("UintRange: %d, %v", v, err)
	}
	wantNotes(t, &r)
	// Outside the facets, inside the Go type: kept and noted.
	r.Reset(mustHex(t, "0a"))
	if v, err := r.UintRange(0, 9, 255, "f"); err != nil || v != 10 {
		t.Errorf("UintRange(0, 9) of 10: %d, %v; want 10 kept", v, err)
	}
	wantNotes(t, &r, "0 f: value 10 outside [0, 9]")
	// Beyond the Go type: an error.
	r.Reset(mustHex(t, "8002")) // 256
	if _, err := r.UintRange(0, 9, 255, "f"); err == nil || err.Error() != "exi: bit 0: f: value 256 does not fit (schema range [0, 9])" {
		t.Errorf("UintRange of 256 into a uint8: %v", err)
	}
	r.Reset(mustHex(t, "8480")) // 1 0001001 -> -10
	if v, err := r.IntRange(-10, 0, -128, 127, "g"); err != nil || v != -10 {
		t.Errorf("IntRange: %d, %v", v, err)
	}
	wantNotes(t, &r)
	r.Reset(mustHex(t, "8480"))
	if v, err := r.IntRange(-9, 0, -128, 127, "g"); err != nil || v != -10 {
		t.Errorf("IntRange(-9, 0) of -10: %d, %v; want -10 kept", v, err)
	}
	wantNotes(t, &r, "0 g: value -10 outside [-9, 0]")
	r.Reset(mustHex(t, "8480"))
	if _, err := r.IntRange(-9, 0, -9, 127, "g"); err == nil {
		t.Errorf("IntRange of -10 into [-9, 127]: no error")
	}
	// Reset forgets the notes of the earlier document.
	r.Reset(mustHex(t, "0a"))
	wantNotes(t, &r)
}

// TestNotesBounded: a document full of deviations keeps MaxNotes of them.
func TestNotesBounded(t *testing.T) {
	var r exi.Reader
	r.Reset(bytes.Repeat([]byte{0xff}, 100))
	for i := 0; i < 100; i++ {
		if v, err := r.NBit(8, 1, 255, "SAScheduleTupleID"); err != nil || v != 256 {
			t.Fatalf("NBit %d: %d, %v", i, v, err)
		}
	}
	if n := len(r.Notes()); n != exi.MaxNotes {
		t.Fatalf("%d notes, want %d", n, exi.MaxNotes)
	}
	if got := r.Notes()[exi.MaxNotes-1].String(); got != "exi: bit 120: SAScheduleTupleID: value 256 outside [1, 255] (kept; the schema forbids it)" {
		t.Errorf("last note %q", got)
	}
}

func TestNBit(t *testing.T) {
	// unitMultiplierType: -3..3 in 3 bits holding v+3.
	var w exi.Writer
	w.Reset(nil)
	w.NBit(-3, -3, 3)
	w.NBit(3, -3, 3)
	w.NBit(-1, -3, 3)
	// percentValueType: 0..100 in 7 bits.
	w.NBit(93, 0, 7)
	// priority 1..20 in 5 bits.
	w.NBit(20, 1, 5)
	b := w.Bytes()
	// 000 110 010 1011101 10011 -> 0001 1001 0101 1101 1001 1000
	wantBytes(t, "NBit", b, "195d98")

	var r exi.Reader
	r.Reset(b)
	for _, c := range []struct {
		n      int
		lo, hi int64
		want   int64
	}{{3, -3, 3, -3}, {3, -3, 3, 3}, {3, -3, 3, -1}, {7, 0, 100, 93}, {5, 1, 20, 20}} {
		v, err := r.NBit(c.n, c.lo, c.hi, "f")
		if err != nil || v != c.want {
			t.Fatalf("NBit(%d, %d, %d) = %d, %v; want %d", c.n, c.lo, c.hi, v, err, c.want)
		}
	}

	wantNotes(t, &r)

	// 3 bits can hold 7 = 4 above -3..3: kept, noted at the value's first bit.
	r.Reset(mustHex(t, "1e")) // 000 111 10
	if _, err := r.NBit(3, -3, 3, "Multiplier"); err != nil {
		t.Fatal(err)
	}
	if v, err := r.NBit(3, -3, 3, "Multiplier"); err != nil || v != 4 {
		t.Fatalf("NBit value above hi: %d, %v; want 4 kept", v, err)
	}
	wantNotes(t, &r, "3 Multiplier: value 4 outside [-3, 3]")

	// The same as a simple element: CH 0, 111, EE 0.
	r.Reset(mustHex(t, "70")) // 0 111 0 000
	if v, empty, err := r.LeafNBit(3, -3, 3, "Multiplier"); err != nil || empty || v != 4 {
		t.Fatalf("LeafNBit value above hi: %d, %v, %v; want 4 kept", v, empty, err)
	}
	wantNotes(t, &r, "1 Multiplier: value 4 outside [-3, 3]")
}

func TestEnum(t *testing.T) {
	var r exi.Reader
	r.Reset(mustHex(t, "4c")) // 01 0 011 00
	if v, err := r.Enum(2, 3, "e"); err != nil || v != 1 {
		t.Fatalf("Enum = %d, %v", v, err)
	}
	if v, err := r.Enum(1, 2, "e"); err != nil || v != 0 {
		t.Fatalf("Enum = %d, %v", v, err)
	}
	wantNotes(t, &r)
	if v, err := r.Enum(3, 3, "ResponseCode"); err != nil || v != 3 { // index 3 of 3 values
		t.Fatalf("Enum past the last value: %d, %v; want 3 kept", v, err)
	}
	wantNotes(t, &r, "3 ResponseCode: enumeration index 3 past the last of 3 values")

	r.Reset(mustHex(t, "60")) // CH 0, 11, EE 0
	if v, empty, err := r.LeafEnum(2, 3, "ChargeProgress"); err != nil || empty || v != 3 {
		t.Fatalf("LeafEnum past the last value: %d, %v, %v; want 3 kept", v, empty, err)
	}
	wantNotes(t, &r, "1 ChargeProgress: enumeration index 3 past the last of 3 values")
}

func TestStringLiteral(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	w.String("")
	w.String("aé")  // é = U+00E9 = 233 -> e9 01
	w.String("€")   // U+20AC = 8364 -> ac 41
	w.String("😀")   // U+1F600 = 128512 -> 80 ec 07
	w.String("DIN") // 3+2
	b := w.Bytes()
	wantBytes(t, "String", b, "02"+"0461e901"+"03ac41"+"0380ec07"+"05"+"44494e")

	var r exi.Reader
	r.Reset(b)
	for _, want := range []string{"", "aé", "€", "😀", "DIN"} {
		s, err := r.String(-1, "q1", "f")
		if err != nil || s != want {
			t.Fatalf("String = %q, %v; want %q", s, err, want)
		}
	}
	if r.Pos() != len(b)*8 {
		t.Errorf("Pos %d, want %d", r.Pos(), len(b)*8)
	}

	wantNotes(t, &r)

	// Schema length limit: "DIN" with max 2, kept and noted.
	r.Reset(mustHex(t, "0544494e"))
	if s, err := r.String(2, "{urn:x}EVCCID", "EVCCID"); err != nil || s != "DIN" {
		t.Errorf("string over maxLength: %q, %v; want it kept", s, err)
	}
	wantNotes(t, &r, "0 EVCCID: string of 3 characters, schema allows 2")
	// A surrogate code point is not a character.
	r.Reset(mustHex(t, "0380b003")) // length 1, U+D800
	if _, err := r.String(-1, "q1", "f"); err == nil {
		t.Error("surrogate code point: no error")
	}
	// A length beyond the input fails before allocating.
	r.Reset(mustHex(t, "ffffffff0f41"))
	if _, err := r.String(-1, "q1", "f"); !errors.Is(err, exi.ErrEOF) {
		t.Errorf("string longer than the input: %v, want ErrEOF", err)
	}
}

func TestStringTable(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	w.String("ab") // qname 5: global [ab], local 5 [ab]
	w.String("cd") // qname 6: global [ab cd], local 6 [cd]
	w.String("ef") // qname 5: global [ab cd ef], local 5 [ab ef]
	w.Uint(0)      // local hit, qname 5, 1 bit: index 1 -> ef
	w.Bits(1, 1)
	w.Uint(0) // local hit, qname 6, 0 bits: cd
	w.Uint(1) // global hit, 2 bits: index 0 -> ab
	w.Bits(0, 2)
	w.Uint(1) // global hit, 2 bits: index 2 -> ef
	w.Bits(2, 2)
	w.Uint(0) // local hit on qname 7: empty table, index 0 out of 0
	b := w.Bytes()

	var r exi.Reader
	r.Reset(b)
	for i, c := range []struct {
		qname string
		want  string
	}{{"q5", "ab"}, {"q6", "cd"}, {"q5", "ef"}, {"q5", "ef"}, {"q6", "cd"}, {"q9", "ab"}, {"q9", "ef"}} {
		s, err := r.String(-1, c.qname, "f")
		if err != nil || s != c.want {
			t.Fatalf("string %d (qname %s) = %q, %v; want %q", i, c.qname, s, err, c.want)
		}
	}
	start := r.Pos()
	_, err := r.String(-1, "q7", "f")
	if err == nil {
		t.Fatal("local hit in an empty table: no error")
	}
	if xe := exiErr(t, err); xe.Bit != start {
		t.Errorf("table error at bit %d, want %d", xe.Bit, start)
	}

	// A global index beyond the table (2 bits hold 3, the table has 3: 0..2).
	w.Reset(nil)
	w.String("x")
	w.String("y")
	w.String("z")
	w.Uint(1)
	w.Bits(3, 2)
	r.Reset(w.Bytes())
	for range 3 {
		if _, err := r.String(-1, "q1", "f"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.String(-1, "q1", "f"); err == nil {
		t.Error("global index out of range: no error")
	}

	// Reset empties the tables.
	r.Reset(mustHex(t, "01"))
	if _, err := r.String(-1, "q1", "f"); err == nil {
		t.Error("global hit after Reset: no error")
	}
}

func TestBinary(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	w.Binary([]byte{0xDE, 0xAD})
	w.Bits(1, 1)
	w.Binary([]byte{0xBE, 0xEF}) // unaligned
	w.Binary(nil)
	b := w.Bytes()
	// 02 de ad | 1 00000010 10111110 11101111 00000000 (pad)
	wantBytes(t, "Binary", b, "02dead"+"815f778000")

	var r exi.Reader
	r.Reset(b)
	for i, want := range [][]byte{{0xDE, 0xAD}, nil, {0xBE, 0xEF}, {}} {
		if i == 1 {
			if v, _ := r.Bits(1); v != 1 {
				t.Fatal("lost the bit between the binaries")
			}
			continue
		}
		got, err := r.Binary(-1, "b")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Binary = %x, %v; want %x", got, err, want)
		}
	}
	wantNotes(t, &r)
	// Schema limit: kept and noted.
	r.Reset(mustHex(t, "02dead"))
	if v, err := r.Binary(1, "SessionID"); err != nil || !bytes.Equal(v, []byte{0xde, 0xad}) {
		t.Errorf("binary over maxLength: %x, %v; want it kept", v, err)
	}
	wantNotes(t, &r, "0 SessionID: binary value of 2 octets, schema allows 1")
}

// TestBinaryHostileLength: a length field claiming 1 GiB in a few bytes of
// input must fail without allocating anything like it.
func TestBinaryHostileLength(t *testing.T) {
	for _, lead := range []int{0, 1, 5} { // aligned and unaligned
		var w exi.Writer
		w.Reset(nil)
		w.Bits(0, lead)
		w.Uint(1 << 30)
		w.Bits(0xABCD, 16)
		b := w.Bytes()

		var r exi.Reader
		r.Reset(b)
		if _, err := r.Bits(lead); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, err := r.Binary(-1, "b")
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("1 GiB binary from %d bytes: no error (%d bytes)", len(b), len(v))
		}
		if !errors.Is(err, exi.ErrEOF) {
			t.Errorf("hostile length: %v, want ErrEOF", err)
		}
		// The error names the length field or the first missing bit of the
		// content it claims (the 5-byte length ends at lead+40).
		if xe := exiErr(t, err); xe.Bit != lead && xe.Bit != lead+40 {
			t.Errorf("hostile length error at bit %d, want %d or %d", xe.Bit, lead, lead+40)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
			t.Errorf("hostile length allocated %d bytes", d)
		}
	}
}

func TestHeader(t *testing.T) {
	var w exi.Writer
	w.Reset(nil)
	w.Header()
	wantBytes(t, "Header", w.Bytes(), "80")

	cases := []struct {
		in   string
		bit  int
		text string
	}{
		{"80", -1, ""},
		{"24455849", 0, "cookie"}, // $EXI
		{"a0", 2, "options"},      // 1 0 1 ...: options present
		{"81", 3, "version"},      // version 2
		{"88", 3, "version"},      // preview version
		{"00", 0, "not an EXI"},   // distinguishing bits 00
		{"c0", 0, "not an EXI"},   // distinguishing bits 11
		{"", 0, "unexpected end"}, // empty input
	}
	for _, c := range cases {
		var r exi.Reader
		r.Reset(mustHex(t, c.in))
		err := r.Header()
		if c.bit < 0 {
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: no error", c.in)
			continue
		}
		xe := exiErr(t, err)
		if xe.Bit != c.bit || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%q: %v (bit %d), want bit %d and %q", c.in, err, xe.Bit, c.bit, c.text)
		}
	}
}

func TestErrorPositions(t *testing.T) {
	// Eleven bits in, a Uint runs off the end of the input.
	var r exi.Reader
	r.Reset(mustHex(t, "801fe0")) // bits 11..18 are 11111111: another group follows
	if _, err := r.Bits(11); err != nil {
		t.Fatal(err)
	}
	_, err := r.Uint()
	if !errors.Is(err, exi.ErrEOF) {
		t.Fatalf("err %v, want ErrEOF", err)
	}
	// The first group is read at 11..18, the second group needs 19..26.
	if xe := exiErr(t, err); xe.Bit != 19 {
		t.Errorf("EOF at bit %d, want 19", xe.Bit)
	}
	e := &exi.Error{Bit: 42, Msg: "something"}
	if e.Error() != "exi: bit 42: something" {
		t.Errorf("Error() = %q", e.Error())
	}
	// Errorf reports the current position.
	r.Reset(mustHex(t, "ff"))
	r.Bits(5)
	if xe := exiErr(t, r.Errorf("x %d", 1)); xe.Bit != 5 || xe.Msg != "x 1" {
		t.Errorf("Errorf = %+v", xe)
	}
}

// TestGrammarEvents drives Writer.Event and Reader.Escape through a small
// grammar: two productions (2-bit codes with the escape), a bounded list,
// and the second-level EE for absent content.
func TestGrammarEvents(t *testing.T) {
	g := &exi.Grammar{
		Name:   "T",
		Events: []string{"EE", "SE(a)", "SE(b)"},
		States: []exi.State{
			// 0: SE(a) (list of at most 2) | SE(b)
			{Width: 2, Level2: 7, Prods: []exi.Prod{
				{Event: 1, Next: 0, Counter: 0, Max: 2, Exit: 1},
				{Event: 2, Next: 2, Counter: -1},
			}},
			// 1: SE(b) only
			{Width: 1, Level2: 7, Prods: []exi.Prod{{Event: 2, Next: 2, Counter: -1}}},
			// 2: EE, or absent simple content through the second level
			{Width: 1, Level2: 7, EE2: true, Prods: []exi.Prod{{Event: 0, Next: 2, Counter: -1}}},
		},
	}
	var w exi.Writer
	w.Reset(nil)
	st, counts := 0, []int{0}
	for _, ev := range []int{1, 1, 2, 0} {
		if err := w.Event(g, &st, ev, counts); err != nil {
			t.Fatalf("Writer.Event(%d): %v", ev, err)
		}
	}
	// 00 00 (list full -> state 1) 0 (SE(b), 1 bit) 0 (EE)
	b := w.Bytes()
	wantBytes(t, "events", b, "00")
	if w.Pos() != 8 {
		t.Errorf("Pos %d", w.Pos())
	}
	// A third SE(a) is refused once the list is full.
	st, counts = 0, []int{0}
	w.Reset(nil)
	w.Event(g, &st, 1, counts)
	w.Event(g, &st, 1, counts)
	if err := w.Event(g, &st, 1, counts); err == nil {
		t.Error("third item of a maxOccurs=2 list: no error")
	}

	// Decoders read a state's code themselves and call Escape for a code
	// past its productions.
	var r exi.Reader
	escape := func(hex string, state, width int) (int, error) {
		r.Reset(mustHex(t, hex))
		c, err := r.Bits(width)
		if err != nil {
			t.Fatal(err)
		}
		return r.Escape(g, state, int(c))
	}
	// Code 3 in a state with 2 productions is invalid (2 is the escape).
	if _, err := escape("c0", 0, 2); err == nil {
		t.Error("invalid event code: no error")
	} else if xe := exiErr(t, err); xe.Bit != 0 {
		t.Errorf("invalid code at bit %d", xe.Bit)
	}
	// Escape (2) then second-level 0 in a state without EE2: unsupported.
	if _, err := escape("80", 0, 2); err == nil {
		t.Error("second-level event: no error")
	}
	// In state 2 the escape then 0 is the second-level EE.
	if ev, err := escape("80", 2, 1); err != nil || ev != exi.EventEE { // 1 000
		t.Errorf("second-level EE = %d, %v", ev, err)
	}
}

// stringHits is a stream of k literals "a" of one qname, then k local hits
// on them (index i%k), and its length.
func stringHits(k int) []byte {
	var w exi.Writer
	w.Reset(nil)
	for range k {
		w.String("a")
	}
	for i := range k {
		w.Uint(0)
		w.Bits(uint32(i%k), bitsFor(k))
	}
	return w.Bytes()
}

func bitsFor(n int) int {
	w := 0
	for 1<<w < n {
		w++
	}
	return w
}

// TestStringHitsLinear: a local hit costs the same however many strings came
// before, so decoding k literals and k hits allocates in proportion to k.
func TestStringHitsLinear(t *testing.T) {
	perByte := func(k int) float64 {
		b := stringHits(k)
		var r exi.Reader
		decode := func() {
			r.Reset(b)
			for i := range 2 * k {
				s, err := r.String(-1, "{urn:x}XPath", "f")
				if err != nil || s != "a" {
					t.Fatalf("string %d: %q, %v", i, s, err)
				}
			}
		}
		decode() // the tables grow once; later runs reuse them
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		decode()
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(b))
	}
	small, large := perByte(100), perByte(1000)
	t.Logf("allocated bytes per input byte: k=100 %.1f, k=1000 %.1f", small, large)
	// Each literal allocates its string; a hit nothing.
	if large > 2*small+1 || large > 16 {
		t.Errorf("allocation per input byte grows with k: %.1f at k=100, %.1f at k=1000", small, large)
	}
}

// TestStringTablesBudget: the tables count against the decoding budget, so
// a document of many short strings cannot grow them past it.
func TestStringTablesBudget(t *testing.T) {
	// Without slack the budget is 64 bytes per input byte; a one-character
	// literal takes 2 bytes and costs its byte plus a table entry.
	b := stringHits(exi.AllocSlack) // 64Ki literals: 128 KiB
	var r exi.Reader
	r.Reset(b)
	budget := exi.AllocFactor*len(b) + exi.AllocSlack
	// Per literal its byte and a table entry (qname and value, and its
	// index in the local table).
	spent := 0
	for i := range exi.AllocSlack {
		if _, err := r.String(-1, "q", "f"); err != nil {
			t.Fatalf("literal %d: %v", i, err)
		}
		spent += 1 + int(2*unsafe.Sizeof("")+unsafe.Sizeof(0))
	}
	// What is left of the budget is exactly what the literals did not use.
	if err := r.Alloc(uintptr(budget - spent)); err != nil {
		t.Errorf("budget after %d literals: %v; want %d bytes left", exi.AllocSlack, err, budget-spent)
	}
	if err := r.Alloc(1); err == nil {
		t.Errorf("string tables not charged: budget not exhausted after %d bytes", budget)
	}
}
