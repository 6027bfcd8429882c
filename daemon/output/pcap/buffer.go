package pcap

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"time"
)

// A plug-in's frames are kept in chunks: each a block of frame bytes and
// an index of 16 bytes per frame, so a frame costs its bytes and 16 more,
// no allocation of its own, and the budget counts every byte the chunks
// hold (their capacity, not their length).
const (
	maxChunk = 64 << 10 // frame bytes per chunk
	minChunk = 2 << 10
	metaSize = 16 // bytes of one index entry
)

type meta struct {
	at     int64 // Unix nanoseconds
	off, n uint32
}

type chunk struct {
	data []byte
	idx  []meta
}

func (c *chunk) cost() int { return cap(c.data) + cap(c.idx)*metaSize }

// buffer holds one plug-in's frames within max bytes. Before the car is
// known it keeps the newest (a flood or a neighbour cannot push the car's
// SLAC out); from the match on (keepOldest) the oldest: a long session is
// cut at its end, its start is kept.
type buffer struct {
	max, chunkSize int
	chunks         []chunk
	bytes          int  // the chunks' cost
	keepOldest     bool // the car matched: no more eviction

	// Said when the file is saved.
	evicted int  // frames dropped before the match to make room
	others  int  // frames of other stations left out
	cut     bool // frames refused at the budget after the match
}

func newBuffer(limit int) buffer {
	// Powers of two, as the allocator hands them out: what a chunk costs is
	// what it takes from the heap.
	size := minChunk
	for size < maxChunk && size*2 <= limit/16 {
		size *= 2
	}
	return buffer{max: limit, chunkSize: size}
}

// newChunk makes a chunk for size bytes of frames; its index starts with
// an entry per 256 bytes and doubles when small frames need more.
func newChunk(size int) chunk {
	return chunk{data: make([]byte, 0, size), idx: make([]meta, 0, max(16, size/256))}
}

// add copies f in; it reports false when f did not fit.
func (b *buffer) add(at time.Time, f []byte) bool {
	var c *chunk
	if n := len(b.chunks); n > 0 {
		c = &b.chunks[n-1]
	}
	var grow int // the cost of making room for f
	switch {
	case c == nil || len(c.data)+len(f) > cap(c.data):
		size := max(b.chunkSize, len(f))
		grow = size + max(16, size/256)*metaSize
	case len(c.idx) == cap(c.idx):
		grow = cap(c.idx) * metaSize // doubled
	}
	for b.bytes+grow > b.max {
		// Before the match the oldest go; never the chunk being filled.
		if b.keepOldest || len(b.chunks) < 2 || grow == 0 {
			b.cut = b.cut || b.keepOldest
			return false
		}
		b.evicted += len(b.chunks[0].idx)
		b.bytes -= b.chunks[0].cost()
		b.chunks[0] = chunk{}
		b.chunks = slices.Delete(b.chunks, 0, 1)
		c = &b.chunks[len(b.chunks)-1]
	}
	if c == nil || len(c.data)+len(f) > cap(c.data) {
		b.chunks = append(b.chunks, newChunk(max(b.chunkSize, len(f))))
		c = &b.chunks[len(b.chunks)-1]
		b.bytes += c.cost()
	}
	if len(c.idx) == cap(c.idx) {
		idx := make([]meta, len(c.idx), 2*cap(c.idx))
		copy(idx, c.idx)
		b.bytes += cap(c.idx) * metaSize
		c.idx = idx
	}
	c.idx = append(c.idx, meta{at: at.UnixNano(), off: uint32(len(c.data)), n: uint32(len(f))})
	c.data = append(c.data, f...)
	return true
}

// keep drops the frames keep refuses, moving the others forward in place:
// memory is given back, never taken, so the budget holds while it runs.
func (b *buffer) keep(keep func([]byte) bool) (dropped int) {
	w := 0 // the chunk written to; it never passes the one read
	for r := range b.chunks {
		rc := b.chunks[r]
		idx := rc.idx // read before the writer, in this chunk, overwrites it
		if r == w {
			b.chunks[w].idx, b.chunks[w].data = b.chunks[w].idx[:0], b.chunks[w].data[:0]
		}
		for _, m := range idx {
			f := rc.data[m.off : m.off+m.n]
			if !keep(f) {
				dropped++
				continue
			}
			wc := &b.chunks[w]
			for len(wc.data)+len(f) > cap(wc.data) {
				w++
				wc = &b.chunks[w]
				wc.idx, wc.data = wc.idx[:0], wc.data[:0]
			}
			off := len(wc.data)
			wc.data = append(wc.data, f...) // copy handles the overlap within one chunk
			wc.idx = append(wc.idx, meta{at: m.at, off: uint32(off), n: m.n})
		}
	}
	for i := w + 1; i < len(b.chunks); i++ {
		b.bytes -= b.chunks[i].cost()
		b.chunks[i] = chunk{}
	}
	if len(b.chunks) > 0 {
		b.chunks = b.chunks[:w+1]
		if len(b.chunks[0].idx) == 0 {
			b.bytes -= b.chunks[0].cost()
			b.chunks = nil
		}
	}
	return dropped
}

// each calls fn with every frame in order.
func (b *buffer) each(fn func(at time.Time, f []byte) error) error {
	for _, c := range b.chunks {
		for _, m := range c.idx {
			if err := fn(time.Unix(0, m.at).UTC(), c.data[m.off:m.off+m.n]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *buffer) frames() int {
	n := 0
	for _, c := range b.chunks {
		n += len(c.idx)
	}
	return n
}

// The SLAC messages, by their MMTYPE without the two bits of REQ, CNF, IND
// and RSP (homeplug's constants; recording reads frames, not messages).
const (
	etherTypeHomePlug = 0x88e1
	mmSlacParm        = 0x6064
	mmStartAttenChar  = 0x6068
	mmAttenChar       = 0x606c
	mmMnbcSound       = 0x6074
	mmValidate        = 0x6078
	mmSlacMatch       = 0x607c
	mmAttenProfile    = 0x6084
)

// otherStation reports whether f is SLAC of a station other than the car:
// sent by it, the charger's answer to it, or the modem's measure of its
// sounds. Everything else (the car's frames, the charger's with its modem,
// V2G) is the car's recording.
func otherStation(f []byte, car, charger net.HardwareAddr) bool {
	if len(f) < 17 || binary.BigEndian.Uint16(f[12:14]) != etherTypeHomePlug {
		return false
	}
	payload := 19 // MMV 1.1 and later carry FMI and FMSN
	if f[14] == 0 {
		payload = 17
	}
	dst, src := f[0:6], f[6:12]
	switch binary.LittleEndian.Uint16(f[15:17]) &^ 3 {
	case mmAttenProfile:
		return len(f) >= payload+6 && !bytes.Equal(f[payload:payload+6], car)
	case mmSlacParm, mmStartAttenChar, mmAttenChar, mmMnbcSound, mmValidate, mmSlacMatch:
		station := src
		if bytes.Equal(src, charger) {
			station = dst
		}
		return !bytes.Equal(station, car)
	}
	return false
}
