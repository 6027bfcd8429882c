package exi

import "unsafe"

// Slab hands out values of T from blocks it keeps. Within one generation
// every value is new storage; a later generation hands the same memory out
// again without clearing it, so a decoder reusing a document across
// messages allocates nothing once its blocks have grown (the caller clears
// what it takes). Generation 0 keeps nothing: its values are never handed
// out again. The zero Slab is ready to use.
type Slab[T any] struct {
	cur    []T // the block in use
	i      int // cur[:i] are handed out
	gen    uint32
	next   int // index of the block after cur
	blocks [][]T
}

// New returns storage for one T of generation gen.
func (s *Slab[T]) New(gen uint32) *T {
	if i := s.i; s.gen == gen && i < len(s.cur) {
		s.i = i + 1
		return &s.cur[i]
	}
	return s.refill(gen)
}

func (s *Slab[T]) refill(gen uint32) *T {
	if s.gen != gen {
		s.gen, s.next = gen, 0
	}
	// A first block of 64 bytes or 4 values, then twice as many each time
	// up to 16 times: a message needs a few, a large document costs few
	// allocations.
	var zero T
	n := max(4, 64/max(int(unsafe.Sizeof(zero)), 1)) << min(s.next, 4)
	if gen == 0 {
		s.cur = make([]T, n) // generation 0 is never handed out again
	} else {
		if s.next == len(s.blocks) {
			s.blocks = append(s.blocks, make([]T, n))
		}
		s.cur = s.blocks[s.next]
	}
	s.i = 1
	s.next++
	return &s.cur[0]
}

// scalars is the storage of a document's optional simple values, which
// decode into pointers.
type scalars struct {
	bools Slab[bool]
	i8    Slab[int8]
	i16   Slab[int16]
	i32   Slab[int32]
	i64   Slab[int64]
	u8    Slab[uint8]
	u16   Slab[uint16]
	u32   Slab[uint32]
	u64   Slab[uint64]
	strs  Slab[string]
}

// bytes returns n bytes of storage of the document; the capacity is cut so
// that appends never overlap. Values share one buffer, which Reuse hands
// out again.
func (r *Reader) bytes(n int) []byte {
	l := len(r.bb)
	if n > cap(r.bb)-l {
		r.bb = make([]byte, 0, max(64, 2*cap(r.bb), n))
		l = 0
	}
	r.bb = r.bb[:l+n]
	return r.bb[l : l+n : l+n]
}

// NewBool returns storage for an optional boolean of the document.
func (r *Reader) NewBool() *bool { return r.sc.bools.New(r.gen) }

// NewInt8 returns storage for an optional int8 of the document.
func (r *Reader) NewInt8() *int8 { return r.sc.i8.New(r.gen) }

// NewInt16 returns storage for an optional int16 of the document.
func (r *Reader) NewInt16() *int16 { return r.sc.i16.New(r.gen) }

// NewInt32 returns storage for an optional int32 of the document.
func (r *Reader) NewInt32() *int32 { return r.sc.i32.New(r.gen) }

// NewInt64 returns storage for an optional int64 of the document.
func (r *Reader) NewInt64() *int64 { return r.sc.i64.New(r.gen) }

// NewUint8 returns storage for an optional uint8 (or enumeration) of the document.
func (r *Reader) NewUint8() *uint8 { return r.sc.u8.New(r.gen) }

// NewUint16 returns storage for an optional uint16 of the document.
func (r *Reader) NewUint16() *uint16 { return r.sc.u16.New(r.gen) }

// NewUint32 returns storage for an optional uint32 of the document.
func (r *Reader) NewUint32() *uint32 { return r.sc.u32.New(r.gen) }

// NewUint64 returns storage for an optional uint64 of the document.
func (r *Reader) NewUint64() *uint64 { return r.sc.u64.New(r.gen) }

// NewString returns storage for an optional string of the document.
func (r *Reader) NewString() *string { return r.sc.strs.New(r.gen) }

// Grow returns s one element longer. The new element is the memory past
// len(s) when s has room, as left by an earlier document: the caller
// clears it. A decoder reusing a document keeps its lists' memory so.
func Grow[T any](s []T) []T {
	if n := len(s); n < cap(s) {
		return s[:n+1]
	}
	var zero T
	return append(s, zero)
}
