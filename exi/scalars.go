package exi

// Optional simple values decode into pointers. Handing them out from small
// per-document blocks makes one allocation serve many of them.
const scalarBlock = 16

func take[T any](s *[]T) *T {
	if len(*s) == 0 {
		*s = make([]T, scalarBlock)
	}
	p := &(*s)[0]
	*s = (*s)[1:]
	return p
}

type scalars struct {
	bools []bool
	i8    []int8
	i16   []int16
	i32   []int32
	i64   []int64
	u8    []uint8
	u16   []uint16
	u32   []uint32
	u64   []uint64
	strs  []string
	bytes []byte
}

// bytes returns n bytes of storage: small values (SessionID, EVCCID) share a
// per-document block; the capacity is cut so that appends never overlap.
func (r *Reader) bytes(n int) []byte {
	if n > 16 {
		return make([]byte, n)
	}
	if len(r.sc.bytes) < n {
		r.sc.bytes = make([]byte, 64)
	}
	b := r.sc.bytes[:n:n]
	r.sc.bytes = r.sc.bytes[n:]
	return b
}

// NewBool returns storage for an optional boolean of the document.
func (r *Reader) NewBool() *bool { return take(&r.sc.bools) }

// NewInt8 returns storage for an optional int8 of the document.
func (r *Reader) NewInt8() *int8 { return take(&r.sc.i8) }

// NewInt16 returns storage for an optional int16 of the document.
func (r *Reader) NewInt16() *int16 { return take(&r.sc.i16) }

// NewInt32 returns storage for an optional int32 of the document.
func (r *Reader) NewInt32() *int32 { return take(&r.sc.i32) }

// NewInt64 returns storage for an optional int64 of the document.
func (r *Reader) NewInt64() *int64 { return take(&r.sc.i64) }

// NewUint8 returns storage for an optional uint8 (or enumeration) of the document.
func (r *Reader) NewUint8() *uint8 { return take(&r.sc.u8) }

// NewUint16 returns storage for an optional uint16 of the document.
func (r *Reader) NewUint16() *uint16 { return take(&r.sc.u16) }

// NewUint32 returns storage for an optional uint32 of the document.
func (r *Reader) NewUint32() *uint32 { return take(&r.sc.u32) }

// NewUint64 returns storage for an optional uint64 of the document.
func (r *Reader) NewUint64() *uint64 { return take(&r.sc.u64) }

// NewString returns storage for an optional string of the document.
func (r *Reader) NewString() *string { return take(&r.sc.strs) }
