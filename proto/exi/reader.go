package exi

import (
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// Reader reads EXI values from a bit-packed stream, most significant bit
// first. The zero value reads nothing; call Reset or Reuse before use.
type Reader struct {
	buf []byte
	pos int // bit position
	// lim bounds the fast paths: a read of n bits at pos with pos+n <= lim
	// is inside the input and has a whole 64-bit window at pos>>3.
	lim int
	pad []byte // Reuse's copy of the input, with room for the last window

	// String value tables (EXI 1.0 §7.3.3), filled only when a string is
	// decoded. Peers write literals, but a conformant stream may refer back.
	// strs, every literal in order, is the global table. The local tables,
	// one partition per qname listing its indices in strs, are built only
	// when a local hit needs them (real peers send none) and then kept up
	// to date: a hit costs the same however many strings came before. A
	// schema has few string qnames, so finding a partition is a short scan
	// bounded by the schema, not the input.
	strs    []strEntry
	parts   []partition
	indexed int // strs[:indexed] are entered in parts

	// Storage of the document's optional simple values and binary values;
	// gen is its generation (see Slab), which Reuse advances.
	sc  scalars
	bb  []byte
	gen uint32

	chars  []byte            // a string's UTF-8 while it is read
	intern map[string]string // Reuse: strings already made, to make no copy twice

	notes []Note // facet deviations accepted, see Notes

	// budget bounds the memory a document may make the decoder allocate,
	// so that a few hostile bytes cannot ask for megabytes.
	budget int

	wild wildState // wildcard content, see any.go
}

type strEntry struct{ q, s string }

type partition struct {
	qname string
	ids   []int // indices into Reader.strs
}

// Budget charges of the string tables: a global entry with its local index,
// and a partition.
const (
	strEntryCost  = unsafe.Sizeof(strEntry{}) + unsafe.Sizeof(0)
	partitionCost = unsafe.Sizeof(partition{})
)

// AllocFactor and AllocSlack set the decoding memory budget of a document
// of n bytes: AllocFactor*n + AllocSlack bytes of decoded values.
const (
	AllocFactor = 64
	AllocSlack  = 64 << 10
)

// Alloc charges n bytes of decoded values to the document's budget.
func (r *Reader) Alloc(n uintptr) error {
	r.budget -= int(n)
	if r.budget < 0 {
		return r.Errorf("document would decode into more than %d bytes of values (%d times its size); refused", AllocFactor*len(r.buf)+AllocSlack, AllocFactor)
	}
	return nil
}

// Reset makes r read b from its first bit, with empty string tables and
// new storage: the values of earlier documents are left alone.
func (r *Reader) Reset(b []byte) {
	r.start(b)
	r.lim = 8 * (len(b) - 8) // the last 8 bytes go the slow way
	r.sc, r.bb, r.intern, r.gen = scalars{}, nil, nil, 0
}

// Reuse is Reset for a Reader that decodes one document after another:
// the storage of the previous document's values (optional values, binary
// values) is handed out again, so it is overwritten. Strings are never
// overwritten; equal strings are made once. Reuse reads from its own copy
// of b, which lets every read take the fast path.
func (r *Reader) Reuse(b []byte) {
	if cap(r.pad) < len(b)+8 {
		r.pad = make([]byte, len(b)+8, max(len(b)+8, 2*cap(r.pad)))
	}
	r.pad = r.pad[:len(b)+8]
	copy(r.pad, b)
	*(*[8]byte)(r.pad[len(b):]) = [8]byte{}
	r.start(r.pad[:len(b)])
	r.lim = 8 * len(b)
	if r.gen++; r.gen == 0 {
		r.gen = 1 // 0 is Reset's: new storage
	}
	r.bb = r.bb[:0]
	switch {
	case r.intern == nil:
		r.intern = make(map[string]string)
	case len(r.intern) >= maxInterned:
		clear(r.intern) // full: a flood does not keep out the strings after it
	}
}

// maxInterned and maxInternedLen bound Reuse's table of strings made once:
// a session repeats a few (EVSEID, meter ID), hostile input cannot grow it.
const (
	maxInterned    = 64
	maxInternedLen = 64
)

func (r *Reader) start(b []byte) {
	r.buf, r.pos = b, 0
	r.budget = AllocFactor*len(b) + AllocSlack
	r.strs, r.parts, r.indexed = r.strs[:0], r.parts[:0], 0
	r.notes = nil // handed out with the earlier document
}

// Gen returns the storage generation of the document being read, for
// decoders that keep their own Slabs in step with the Reader's.
func (r *Reader) Gen() uint32 { return r.gen }

// Pos returns the bit position of the next bit to read.
func (r *Reader) Pos() int { return r.pos }

// Len returns the number of bytes taken by what has been read so far,
// including the padding of a partly read last byte.
func (r *Reader) Len() int { return (r.pos + 7) / 8 }

func (r *Reader) left() int { return len(r.buf)*8 - r.pos }

// Errorf returns an *Error at the current bit position.
func (r *Reader) Errorf(format string, args ...any) error {
	return &Error{Bit: r.pos, Msg: fmt.Sprintf(format, args...)}
}

func (r *Reader) eof(what string) error {
	return &eofError{Error{Bit: r.pos, Msg: "unexpected end of input reading " + what}}
}

// Bits reads an n-bit unsigned integer, 0 <= n <= 32.
func (r *Reader) Bits(n int) (uint32, error) {
	// Fast path (TryBits is the same, inlined): a 64-bit window holds the
	// pos&7 (<= 7) bits already read of its first byte plus n (<= 32).
	if p := r.pos; p+n <= r.lim {
		r.pos = p + n
		return uint32(r.window(p) >> (64 - uint(n))), nil
	}
	return r.bitsTail(n)
}

// TryBits reads an n-bit unsigned integer, 0 <= n <= 32, when the fast
// path can: small enough to inline, it leaves the rest (the end of the
// input) to Bits, reading nothing and returning false.
func (r *Reader) TryBits(n int) (uint32, bool) {
	if p := r.pos; p+n <= r.lim {
		r.pos = p + n
		return uint32(r.window(p) >> (64 - uint(n))), true
	}
	return 0, false
}

// window returns the 64 bits from bit p on; p <= lim. lim guarantees the
// 8 bytes at p>>3 exist, which spares the bounds checks.
func (r *Reader) window(p int) uint64 {
	return load64(unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.buf)), p>>3)) << uint(p&7)
}

// bitsTail reads bits near the end of the input, where no full 64-bit
// window is left: the missing bytes count as zeros.
func (r *Reader) bitsTail(n int) (uint32, error) {
	if n > r.left() {
		return 0, r.eof(fmt.Sprintf("%d bits", n))
	}
	var w uint64
	for i := r.pos >> 3; i < (r.pos>>3)+8; i++ {
		w <<= 8
		if i < len(r.buf) {
			w |= uint64(r.buf[i])
		}
	}
	w <<= uint(r.pos & 7)
	r.pos += n
	return uint32(w >> (64 - uint(n))), nil
}

// Zero reads the next bit if it is 0 and reports whether it was: the code
// of a state with one production, the most common case, small enough to
// be inlined. On false nothing is read.
func (r *Reader) Zero() bool {
	if i := r.pos >> 3; i < len(r.buf) && r.buf[i]<<uint(r.pos&7)&0x80 == 0 {
		r.pos++
		return true
	}
	return false
}

// Header reads the EXI header. V2G uses exactly 0x80: no cookie, no
// options (they are agreed out of band), format version 1.
func (r *Reader) Header() error {
	if r.pos == 0 && len(r.buf) > 0 && r.buf[0] == 0x80 {
		r.pos = 8
		return nil
	}
	b, err := r.Bits(8)
	if err != nil {
		return err
	}
	switch {
	case b == 0x80:
		return nil
	case b == '$':
		return &Error{Bit: 0, Msg: "EXI cookie ($EXI) is not supported"}
	case b&0xC0 != 0x80:
		return &Error{Bit: 0, Msg: fmt.Sprintf("not an EXI stream: header byte 0x%02x", b)}
	case b&0x20 != 0:
		return &Error{Bit: 2, Msg: "EXI options in the header are not supported"}
	default:
		return &Error{Bit: 3, Msg: fmt.Sprintf("unsupported EXI format version (header byte 0x%02x)", b)}
	}
}

// Bool reads a boolean (1 bit).
func (r *Reader) Bool() (bool, error) {
	v, err := r.Bits(1)
	return v == 1, err
}

// Uint reads an Unsigned Integer: 7-bit groups, least significant first,
// the high bit of each octet saying whether another follows.
func (r *Reader) Uint() (uint64, error) {
	// Fast path: up to 7 octets from one 64-bit window (values < 2^49).
	if p := r.pos; p <= r.lim {
		w := r.window(p)
		var v uint64
		for k := uint(0); k < 49; k += 7 {
			b := w >> 56
			w <<= 8
			v |= (b & 0x7F) << k
			if b&0x80 == 0 {
				if e := p + int(k/7+1)*8; e <= 8*len(r.buf) {
					r.pos = e
					return v, nil
				}
				break // past the end: the slow path says so
			}
		}
	}
	return r.uintSlow()
}

func (r *Reader) uintSlow() (uint64, error) {
	start := r.pos
	var v uint64
	for shift := 0; ; shift += 7 {
		b, err := r.Bits(8)
		if err != nil {
			return 0, err
		}
		if shift == 63 && b&0x7E != 0 || shift > 63 {
			return 0, &Error{Bit: start, Msg: "unsigned integer does not fit 64 bits"}
		}
		v |= uint64(b&0x7F) << shift
		if b&0x80 == 0 {
			return v, nil
		}
	}
}

// Int reads an Integer: a sign bit (1 = negative), then the magnitude as an
// Unsigned Integer; negative values store |v|-1.
func (r *Reader) Int() (int64, error) {
	start := r.pos
	var neg bool
	if p := r.pos; p+1 <= r.lim {
		neg = r.window(p)>>63 != 0
		r.pos++
	} else {
		var err error
		if neg, err = r.Bool(); err != nil {
			return 0, err
		}
	}
	u, err := r.Uint()
	if err != nil {
		return 0, err
	}
	if u > 1<<63-1 {
		return 0, &Error{Bit: start, Msg: "integer does not fit 64 bits"}
	}
	if neg {
		return -int64(u) - 1, nil
	}
	return int64(u), nil
}

// The facet checks below keep a value the schema forbids but the bits and
// the Go type can hold, and note it (see Notes): real peers send such
// values, and one of them must not cost the whole message. A value the Go
// type cannot hold is an error.

// UintRange reads an Unsigned Integer of field whose facets allow [lo, hi]
// and whose Go type holds at most max.
func (r *Reader) UintRange(lo, hi, max uint64, field string) (uint64, error) {
	start := r.pos
	v, err := r.Uint()
	if err == nil && (v < lo || v > hi) {
		if v > max {
			return 0, &Error{Bit: start, Msg: fmt.Sprintf("%s: value %d does not fit (schema range [%d, %d])", field, v, lo, hi)}
		}
		r.note(start, field, "value %d outside [%d, %d]", v, lo, hi)
	}
	return v, err
}

// IntRange reads an Integer of field whose facets allow [lo, hi] and whose
// Go type holds [min, max].
func (r *Reader) IntRange(lo, hi, min, max int64, field string) (int64, error) {
	start := r.pos
	v, err := r.Int()
	if err == nil && (v < lo || v > hi) {
		if v < min || v > max {
			return 0, &Error{Bit: start, Msg: fmt.Sprintf("%s: value %d does not fit (schema range [%d, %d])", field, v, lo, hi)}
		}
		r.outside(start, field, v, lo, hi)
	}
	return v, err
}

// outside notes an integer at bit outside its range [lo, hi].
func (r *Reader) outside(bit int, field string, v, lo, hi int64) {
	r.note(bit, field, "value %d outside [%d, %d]", v, lo, hi)
}

// badEnum notes an enumeration index at bit not below count.
func (r *Reader) badEnum(bit int, field string, x uint32, count int) {
	r.note(bit, field, "enumeration index %d past the last of %d values", x, count)
}

// NBit reads an n-bit integer holding value-lo and returns the value; one
// above hi (n bits can hold more than the range) is noted.
func (r *Reader) NBit(n int, lo, hi int64, field string) (int64, error) {
	start := r.pos
	u, err := r.Bits(n)
	if err != nil {
		return 0, err
	}
	v := lo + int64(u)
	if v > hi {
		r.outside(start, field, v, lo, hi)
	}
	return v, nil
}

// Enum reads an enumeration index of n bits; one not below count is noted.
func (r *Reader) Enum(n, count int, field string) (int, error) {
	start := r.pos
	u, err := r.Bits(n)
	if err != nil {
		return 0, err
	}
	if int(u) >= count {
		r.badEnum(start, field, u, count)
	}
	return int(u), nil
}

// Binary reads a length-prefixed octet string of field; one longer than
// max octets (max < 0: no schema limit) is noted. The input bounds the
// allocation.
func (r *Reader) Binary(max int, field string) ([]byte, error) {
	start := r.pos
	n, err := r.Uint()
	if err != nil {
		return nil, err
	}
	if max >= 0 && n > uint64(max) && n <= uint64(r.left()/8) {
		r.note(start, field, "binary value of %d octets, schema allows %d", n, max)
	}
	if n > uint64(r.left()/8) {
		return nil, r.eof(fmt.Sprintf("binary value of %d octets", n))
	}
	if err := r.Alloc(uintptr(n)); err != nil {
		return nil, err
	}
	b := r.bytes(int(n))
	if r.pos&7 == 0 {
		copy(b, r.buf[r.pos>>3:])
		r.pos += int(n) * 8
		return b, nil
	}
	for i := range b {
		if p := r.pos; p+8 <= r.lim {
			b[i] = byte(r.window(p) >> 56)
			r.pos = p + 8
			continue
		}
		v, _ := r.Bits(8)
		b[i] = byte(v)
	}
	return b, nil
}

// String reads a string value of field; one longer than max characters
// (max < 0: no schema limit) is noted. qname ("{namespace}local") names the
// element or attribute whose local value table it uses. Length 0 and 1
// refer to the local and global value tables.
func (r *Reader) String(max int, qname, field string) (string, error) {
	start := r.pos
	n, err := r.Uint()
	if err != nil {
		return "", err
	}
	switch n {
	case 0:
		local, err := r.localTable(qname)
		if err != nil {
			return "", err
		}
		i, err := r.Bits(bitsFor(len(local)))
		if err != nil {
			return "", err
		}
		if int(i) >= len(local) {
			return "", &Error{Bit: start, Msg: fmt.Sprintf("local string table index %d out of %d", i, len(local))}
		}
		return r.strs[local[i]].s, nil
	case 1:
		i, err := r.Bits(bitsFor(len(r.strs)))
		if err != nil {
			return "", err
		}
		if int(i) >= len(r.strs) {
			return "", &Error{Bit: start, Msg: fmt.Sprintf("global string table index %d out of %d", i, len(r.strs))}
		}
		return r.strs[i].s, nil
	}
	n -= 2
	// Every character takes at least one octet.
	if n > uint64(r.left()/8) {
		return "", r.eof(fmt.Sprintf("string of %d characters", n))
	}
	if max >= 0 && n > uint64(max) {
		r.note(start, field, "string of %d characters, schema allows %d", n, max)
	}
	if err := r.Alloc(uintptr(n)); err != nil {
		return "", err
	}
	if cap(r.chars) < int(n) {
		r.chars = make([]byte, 0, int(n)+32) // more only for multi-byte characters
	}
	b := r.chars[:0]
	for i := uint64(0); i < n; i++ {
		c, err := r.Uint()
		if err != nil {
			return "", err
		}
		if c < utf8.RuneSelf {
			b = append(b, byte(c))
			continue
		}
		if c > utf8.MaxRune || c >= 0xD800 && c <= 0xDFFF {
			return "", r.Errorf("invalid character code point %#x", c)
		}
		b = utf8.AppendRune(b, rune(c))
	}
	r.chars = b
	s, ok := r.intern[string(b)]
	if !ok {
		s = string(b)
		if r.intern != nil && len(b) <= maxInternedLen && len(r.intern) < maxInterned {
			r.intern[s] = s
		}
	}
	if n > 0 {
		// The entry and its later local index count against the budget.
		if err := r.Alloc(strEntryCost); err != nil {
			return "", err
		}
		r.strs = append(r.strs, strEntry{qname, s})
	}
	return s, nil
}

// partition returns the local table of qname, or nil before its first value.
func (r *Reader) partition(qname string) *partition {
	for i := range r.parts {
		if r.parts[i].qname == qname {
			return &r.parts[i]
		}
	}
	return nil
}

// localTable returns the indices in strs of qname's values, entering the
// literals read since the last local hit in their partitions first.
func (r *Reader) localTable(qname string) ([]int, error) {
	for ; r.indexed < len(r.strs); r.indexed++ {
		q := r.strs[r.indexed].q
		p := r.partition(q)
		if p == nil {
			if err := r.Alloc(partitionCost); err != nil {
				return nil, err
			}
			r.parts = append(r.parts, partition{qname: q})
			p = &r.parts[len(r.parts)-1]
		}
		p.ids = append(p.ids, r.indexed)
	}
	if p := r.partition(qname); p != nil {
		return p.ids, nil
	}
	return nil, nil
}

// bitsFor returns the width of a compact identifier over n values.
func bitsFor(n int) int {
	w := 0
	for 1<<w < n {
		w++
	}
	return w
}

// LeafStart reads the event code of a simple-typed element's content: its
// grammar has one production, CH, so the code is one bit, 0. A 1 escapes to
// the seven second-level productions, of which EE (an empty element, as
// some encoders write an empty value) is understood: empty is then true
// and the element is complete.
func (r *Reader) LeafStart() (empty bool, err error) {
	if r.Zero() {
		return false, nil
	}
	return r.leafStartSlow()
}

func (r *Reader) leafStartSlow() (bool, error) {
	v, err := r.Bits(1)
	if err != nil || v == 0 {
		return false, err
	}
	start := r.pos - 1
	c2, err := r.Bits(3)
	if err != nil {
		return false, err
	}
	if c2 == 0 {
		return true, nil
	}
	return false, r.secondLevel(nil, nil, true, start, c2) // xsi.go
}

// LeafEnd reads the EE code closing a simple-typed element (one bit, 0).
func (r *Reader) LeafEnd() error {
	if r.Zero() {
		return nil
	}
	return r.leafEndSlow()
}

func (r *Reader) leafEndSlow() error {
	v, err := r.Bits(1)
	if err == nil && v != 0 {
		err = &Error{Bit: r.pos - 1, Msg: "second-level event after a simple value (undeclared content) is not supported"}
	}
	return err
}

// Escape handles a first-level code c past the productions of a state, for
// decoders generated with the grammar's states as code: the escape to the
// second level (only its EE is understood) or an invalid code.
func (r *Reader) Escape(g *Grammar, state, c int) (int, error) {
	return r.escape(g, &g.States[state], c)
}

// escape handles a first-level code past the productions: the escape to
// the second level (only its EE is understood) or an invalid code.
func (r *Reader) escape(g *Grammar, s *State, c int) (int, error) {
	start := r.pos - int(s.Width)
	if c > len(s.Prods) {
		return 0, &Error{Bit: start, Msg: fmt.Sprintf("%s: invalid event code %d", g.Name, c)}
	}
	c2, err := r.Bits(bitsFor(int(s.Level2)))
	if err != nil {
		return 0, err
	}
	if c2 == 0 && s.EE2 {
		return EventEE, nil
	}
	return 0, r.secondLevel(g, s, s == &g.States[0], start, c2) // xsi.go
}

// leafBits reads a simple element holding an n-bit value: the CH code (0),
// the value and the EE code (0) in one read, the common case; anything else
// goes the long way through LeafStart and LeafEnd.
func (r *Reader) leafBits(n int) (v uint32, empty bool, err error) {
	start := r.pos
	if p := start; p+n+2 <= r.lim {
		if x := uint32(r.window(p) >> (62 - uint(n))); x>>uint(n+1) == 0 && x&1 == 0 {
			r.pos = p + n + 2
			return x >> 1, false, nil
		}
	} else if x, err := r.Bits(n + 2); err == nil && x>>uint(n+1) == 0 && x&1 == 0 {
		return x >> 1, false, nil
	}
	r.pos = start
	if empty, err = r.LeafStart(); err != nil || empty {
		return 0, empty, err
	}
	if v, err = r.Bits(n); err != nil {
		return 0, false, err
	}
	return v, false, r.LeafEnd()
}

// LeafBool reads a simple element holding a boolean; empty reports an
// element without content.
func (r *Reader) LeafBool() (v, empty bool, err error) {
	x, empty, err := r.leafBits(1)
	return x == 1, empty, err
}

// LeafEnum reads a simple element field holding an n-bit enumeration
// index; one not below count is noted.
func (r *Reader) LeafEnum(n, count int, field string) (v int, empty bool, err error) {
	start := r.pos + 1
	x, empty, err := r.leafBits(n)
	if err == nil && !empty && int(x) >= count {
		r.badEnum(start, field, x, count)
	}
	return int(x), empty, err
}

// LeafNBit reads a simple element field holding an n-bit integer offset
// from lo; one above hi is noted.
func (r *Reader) LeafNBit(n int, lo, hi int64, field string) (v int64, empty bool, err error) {
	start := r.pos + 1
	x, empty, err := r.leafBits(n)
	v = lo + int64(x)
	if err == nil && !empty && v > hi {
		r.outside(start, field, v, lo, hi)
	}
	return v, empty, err
}
