package v2gtp

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// DefaultMaxPayload is the payload limit of a Reader whose MaxPayload is
// zero: 8 KiB holds every V2G message except certificate installation.
const DefaultMaxPayload = 8 << 10

// minBuffer is the first buffer a Reader allocates; it grows up to the
// largest message actually received, never to MaxPayload up front.
const minBuffer = 2 << 10

// maxEmptyReads bounds the reads that return no bytes and no error, as
// bufio does, so that a broken io.Reader cannot make Next spin forever.
const maxEmptyReads = 100

// ErrBadCount reports an io.Reader that returned a byte count outside its
// buffer, a bug in that reader.
var ErrBadCount = errors.New("v2gtp: the underlying reader returned an invalid count")

// Reader reads whole V2GTP messages from a byte stream such as a TCP
// connection, however the stream splits or joins them. It buffers: bytes
// it has read past the current message belong to the next one.
type Reader struct {
	// MaxPayload caps the payload length; zero means DefaultMaxPayload.
	// A longer message fails Next with ErrTooLong before anything is
	// allocated for it.
	MaxPayload uint32

	r          io.Reader
	buf        []byte
	start, end int   // unread bytes are buf[start:end]
	err        error // sticky: after a bad header the stream is lost
}

// NewReader returns a Reader that reads messages from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// Next returns the next message's header and payload. The payload aliases
// the Reader's buffer and is valid until the next call. At a clean end of
// stream, between messages, Next returns io.EOF; inside a message it
// returns io.ErrUnexpectedEOF. A bad header or an oversized length is
// permanent: every later call returns the same error.
func (r *Reader) Next() (Header, []byte, error) {
	if r.err != nil {
		return Header{}, nil, r.err
	}
	if err := r.fill(HeaderLen); err != nil {
		return Header{}, nil, r.fail(err)
	}
	h, err := ParseHeader(r.buf[r.start:r.end])
	if err != nil {
		return Header{}, nil, r.fail(err)
	}
	limit := r.MaxPayload
	if limit == 0 {
		limit = DefaultMaxPayload
	}
	if h.Length > limit || uint64(h.Length) > math.MaxInt-HeaderLen {
		// The second test only matters where int has 32 bits.
		return Header{}, nil, r.fail(fmt.Errorf("%w: %d > %d bytes (Reader.MaxPayload)", ErrTooLong, h.Length, limit))
	}
	n := HeaderLen + int(h.Length)
	if err := r.fill(n); err != nil {
		return Header{}, nil, r.fail(err)
	}
	p := r.buf[r.start+HeaderLen : r.start+n : r.start+n]
	r.start += n
	return h, p, nil
}

// fail records err, turning an end of stream inside a message into
// io.ErrUnexpectedEOF, and returns it.
func (r *Reader) fail(err error) error {
	if err == io.EOF && r.end > r.start {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
	return err
}

// fill reads until at least n unread bytes are buffered. The buffer grows
// with the bytes that actually arrive, at most doubling each time, so a
// header that promises a long payload costs nothing until it is sent.
func (r *Reader) fill(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start > 0 && r.start+n > len(r.buf) {
		// Move the partial message to the front to make room for its tail.
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	empty := 0
	for r.end-r.start < n {
		if r.end == len(r.buf) {
			// Full, and start is 0 here: the message is longer than the buffer.
			size := n
			if len(r.buf) < n/2 {
				size = max(minBuffer, 2*len(r.buf))
			}
			nb := make([]byte, size)
			r.end = copy(nb, r.buf[r.start:r.end])
			r.start = 0
			r.buf = nb
		}
		m, err := r.r.Read(r.buf[r.end:])
		if m < 0 || m > len(r.buf)-r.end {
			return fmt.Errorf("%w: %d bytes into a buffer of %d", ErrBadCount, m, len(r.buf)-r.end)
		}
		r.end += m
		if r.end-r.start >= n {
			return nil // a read error comes back on the next call
		}
		if err != nil {
			return err
		}
		if m == 0 {
			if empty++; empty >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}
