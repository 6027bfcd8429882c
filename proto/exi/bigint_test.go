package exi_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
)

func bigOf(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 0)
	if !ok {
		t.Fatalf("bad big integer %q", s)
	}
	return v
}

// TestIntegerWire checks values wider than 64 bits against EXI 1.0 §7.1.5
// written out by hand: the sign bit (1 = negative), then |v| (|v|-1 when
// negative) in 7-bit groups, least significant first, bit 7 of each octet
// set when another follows. The 20-octet value is a real-sized X.509
// serial number.
func TestIntegerWire(t *testing.T) {
	serial := "0x5f3c1d2e4b6a798807162534435261708f9eadbc"
	for _, c := range []struct {
		v    string
		wire string
	}{
		{"0", "0000"},
		{"-1", "8000"},
		{"9223372036854775807", "7fffffffffffffffbf80"},    // 2^63-1: 9 groups of 7 ones
		{"9223372036854775808", "4040404040404040400080"},  // 2^63: 9 zero groups, then 1
		{"18446744073709551616", "4040404040404040400100"}, // 2^64: 9 zero groups, then 2
		{"-9223372036854775808", "ffffffffffffffffbf80"},   // -2^63 stores 2^63-1
		{"-9223372036854775809", "c040404040404040400080"}, // -2^63-1 stores 2^63
		{serial, "5e6dfd7e44574c54e1f44a58f8c0715e754b5cf4e0f38b80"},
		{"-" + serial, "ddedfd7e44574c54e1f44a58f8c0715e754b5cf4e0f38b80"},
	} {
		want := exi.IntegerFromBig(bigOf(t, c.v))
		var w exi.Writer
		w.Reset(nil)
		w.Integer(want)
		wantBytes(t, "write "+c.v, w.Bytes(), c.wire)

		var r exi.Reader
		r.Reset(mustHex(t, c.wire))
		got, err := r.Integer()
		if err != nil {
			t.Fatalf("read %s: %v", c.v, err)
		}
		if got.Cmp(want) != 0 || got.String() != want.String() {
			t.Errorf("read %s: got %s", c.v, got)
		}
		if n := 8 * (len(c.wire)/2 - 1); r.Pos() != 1+n { // the sign, then n/8 octets
			t.Errorf("read %s: ended at bit %d, want %d", c.v, r.Pos(), 1+n)
		}
		_, fits := got.Int64()
		if wantFits := want.Big().IsInt64(); fits != wantFits {
			t.Errorf("%s: Int64 fits = %v", c.v, fits)
		}
	}
}

// TestIntegerHostile: a magnitude of 100 000 octets decodes in linear time
// into its exact value; one that never ends is an ErrEOF at its start.
func TestIntegerHostile(t *testing.T) {
	const n = 100000
	var w exi.Writer
	w.Reset(nil)
	w.Bits(1, 1) // negative
	for range n - 1 {
		w.Bits(0xFF, 8) // group 0x7F, more follows
	}
	w.Bits(0x7F, 8) // the last group, 0x7F
	b := w.Bytes()
	var r exi.Reader
	r.Reset(b)
	v, err := r.Integer()
	if err != nil {
		t.Fatal(err)
	}
	// Every group is 0x7F: the magnitude stored is 2^(7n) - 1, so the value
	// is -2^(7n).
	want := new(big.Int).Lsh(big.NewInt(1), 7*n)
	want.Neg(want)
	if v.Big().Cmp(want) != 0 {
		t.Errorf("value has %d bits, want -2^%d", v.Big().BitLen(), 7*n)
	}

	for i := range b {
		b[i] = 0xFF
	}
	r.Reset(b)
	_, err = r.Integer()
	var xe *exi.Error
	if !errors.Is(err, exi.ErrEOF) || !errors.As(err, &xe) || xe.Bit != 8*len(b)-7 {
		t.Errorf("unterminated integer: %v", err)
	}
}

// TestIntegerJSON: a number of any length, every digit kept; a decimal
// string is accepted; a fraction or an exponent is not.
func TestIntegerJSON(t *testing.T) {
	const big20 = "543694709949702439700621576012388083513039957436"
	var s struct{ N exi.Integer }
	if err := json.Unmarshal([]byte(`{"N":-`+big20+`}`), &s); err != nil {
		t.Fatal(err)
	}
	if out, _ := json.Marshal(s); string(out) != `{"N":-`+big20+`}` {
		t.Errorf("marshal: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"N":"1234"}`), &s); err != nil || s.N.Cmp(exi.NewInteger(1234)) != 0 {
		t.Errorf("string form: %v, %s", err, s.N)
	}
	for _, bad := range []string{`1.5`, `1e3`, `"12a"`, `"-"`, `true`, `""`} {
		if err := json.Unmarshal([]byte(`{"N":`+bad+`}`), &s); err == nil {
			t.Errorf("%s accepted as %s", bad, s.N)
		}
	}
	if v, err := exi.ParseInteger("+" + big20); err != nil || v.String() != big20 || v.Sign() != 1 {
		t.Errorf("ParseInteger(+...) = %s, %v", v, err)
	}
}
