package exi

import (
	"fmt"
	"unicode/utf8"
)

// Writer writes EXI values bit-packed, most significant bit first, by
// appending to a byte slice. It allocates only when that slice is full.
type Writer struct {
	buf []byte
	acc uint64 // pending bits, the low n of them valid
	n   uint

	wild wildState // wildcard content, see any.go
}

// Reset makes w append to dst[:len(dst)].
func (w *Writer) Reset(dst []byte) { w.buf, w.acc, w.n = dst, 0, 0 }

// Pos returns the number of bits written since Reset (after dst's bytes).
func (w *Writer) Pos() int { return len(w.buf)*8 + int(w.n) }

// Bytes pads the last byte with zero bits and returns the buffer.
func (w *Writer) Bytes() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc<<(8-w.n)))
		w.acc, w.n = 0, 0
	}
	return w.buf
}

// Bits writes the low n bits of v, 0 <= n <= 32.
func (w *Writer) Bits(v uint32, n int) {
	w.acc = w.acc<<uint(n) | uint64(v)&(1<<uint(n)-1)
	w.n += uint(n)
	for w.n >= 8 {
		w.n -= 8
		w.buf = append(w.buf, byte(w.acc>>w.n))
	}
}

// Header writes the EXI header byte 0x80.
func (w *Writer) Header() { w.Bits(0x80, 8) }

// Bool writes a boolean as one bit.
func (w *Writer) Bool(b bool) {
	if b {
		w.Bits(1, 1)
	} else {
		w.Bits(0, 1)
	}
}

// Uint writes an Unsigned Integer in 7-bit groups, least significant first.
func (w *Writer) Uint(v uint64) {
	for v >= 0x80 {
		w.Bits(uint32(v&0x7F|0x80), 8)
		v >>= 7
	}
	w.Bits(uint32(v), 8)
}

// Int writes an Integer: sign bit, then |v| (|v|-1 when negative).
func (w *Writer) Int(v int64) {
	if v < 0 {
		w.Bits(1, 1)
		w.Uint(uint64(-(v + 1)))
		return
	}
	w.Bits(0, 1)
	w.Uint(uint64(v))
}

// NBit writes v-lo in n bits.
func (w *Writer) NBit(v, lo int64, n int) { w.Bits(uint32(v-lo), n) }

// Binary writes a length-prefixed octet string.
func (w *Writer) Binary(b []byte) {
	w.Uint(uint64(len(b)))
	if w.n == 0 {
		w.buf = append(w.buf, b...)
		return
	}
	for _, c := range b {
		w.Bits(uint32(c), 8)
	}
}

// String writes a string literal: its length in characters plus 2 (0 and 1
// would refer to the string tables), then each code point.
func (w *Writer) String(s string) {
	w.Uint(uint64(utf8.RuneCountInString(s)) + 2)
	for _, c := range s {
		w.Uint(uint64(c))
	}
}

// Leaf writes the one-bit code of a simple element's CH or EE production.
func (w *Writer) Leaf() { w.Bits(0, 1) }

// Event writes the code of event ev in the given state and moves *state on,
// or reports that the schema does not allow ev there.
func (w *Writer) Event(g *Grammar, state *int, ev int, counts []int) error {
	s := &g.States[*state]
	for c := range s.Prods {
		p := &s.Prods[c]
		if int(p.Event) != ev {
			continue
		}
		w.Bits(uint32(c), int(s.Width))
		*state = int(p.Next)
		if p.Counter >= 0 {
			counts[p.Counter]++
			if counts[p.Counter] >= int(p.Max) {
				*state = int(p.Exit)
			}
		}
		return nil
	}
	if ev == EventEE && s.EE2 {
		// Absent simple content: EE through the second level.
		w.Bits(uint32(len(s.Prods)), int(s.Width))
		w.Bits(0, bitsFor(int(s.Level2)))
		return nil
	}
	if ev == EventEE {
		return &SchemaError{Field: g.Name, Msg: "content incomplete: a mandatory element is missing"}
	}
	return &SchemaError{Field: g.Name, Msg: g.event(ev) + " is not allowed here (missing element before it, two choices set, or too many items)"}
}

// CheckString reports a string longer than max characters (max < 0: none).
func CheckString(field, s string, max int) error {
	if max >= 0 && len(s) > max && utf8.RuneCountInString(s) > max {
		return &SchemaError{Field: field, Msg: fmt.Sprintf("%d characters, schema allows %d", utf8.RuneCountInString(s), max)}
	}
	return nil
}

// CheckBinary reports a binary value longer than max octets (max < 0: none).
func CheckBinary(field string, b []byte, max int) error {
	if max >= 0 && len(b) > max {
		return &SchemaError{Field: field, Msg: fmt.Sprintf("%d octets, schema allows %d", len(b), max)}
	}
	return nil
}

// CheckRange reports an integer outside [lo, hi].
func CheckRange(field string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return &SchemaError{Field: field, Msg: fmt.Sprintf("value %d outside [%d, %d]", v, lo, hi)}
	}
	return nil
}

// CheckURange reports an unsigned integer outside [lo, hi].
func CheckURange(field string, v, lo, hi uint64) error {
	if v < lo || v > hi {
		return &SchemaError{Field: field, Msg: fmt.Sprintf("value %d outside [%d, %d]", v, lo, hi)}
	}
	return nil
}

// CheckEnum reports an enumeration index of the type named typ that is not
// below count, the number of its values.
func CheckEnum(field, typ string, v uint64, count int) error {
	if v >= uint64(count) {
		return badEnumValue(field, typ, v, count)
	}
	return nil
}

// badEnumValue is out of CheckEnum, which is then small enough to inline.
func badEnumValue(field, typ string, v uint64, count int) error {
	return &SchemaError{Field: field, Msg: fmt.Sprintf("invalid %s value %d (it has %d)", typ, v, count)}
}

// CheckItems reports a list of n items, more than max.
func CheckItems(field string, n, max int) error {
	if n > max {
		return &SchemaError{Field: field, Msg: fmt.Sprintf("%d items, schema allows %d", n, max)}
	}
	return nil
}
