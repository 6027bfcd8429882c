package v2gtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Errors returned by Writer; they are wrapped with details.
var (
	ErrNoHeaderRoom = errors.New("v2gtp: message buffer lacks the 8 bytes reserved for the header (start it from Writer.Buffer)")
	ErrWrite        = errors.New("v2gtp: message not written")
)

// Writer writes whole V2GTP messages to a byte stream such as a TCP
// connection, each in one Write, from a buffer it keeps between messages
// so that the steady state allocates nothing. It is not safe for
// concurrent use.
//
// The caller asks for the buffer, appends the payload to it (an EXI
// encoder appends its document directly) and hands it back:
//
//	buf := w.Buffer()
//	buf, err := din.Append(buf, &res)
//	...
//	err = w.WriteMessage(v2gtp.TypeEXI, buf)
type Writer struct {
	w   io.Writer
	buf []byte
	err error // sticky: after a failed write the peer's framing is lost
}

// NewWriter returns a Writer that writes messages to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Buffer returns the writer's buffer holding HeaderLen reserved bytes and
// no payload yet; append the payload to it. It is valid until the next
// WriteMessage.
func (w *Writer) Buffer() []byte {
	if cap(w.buf) < HeaderLen {
		w.buf = make([]byte, HeaderLen, minBuffer)
	}
	return w.buf[:HeaderLen]
}

// WriteMessage fills in the header of buf, whose first HeaderLen bytes are
// reserved and the rest is the payload, and writes it as a message of
// type t in a single Write. buf becomes the writer's buffer for the next
// message, so a buffer that grew while appending is reused. A failed
// write is permanent: every later call returns the same error.
func (w *Writer) WriteMessage(t PayloadType, buf []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(buf) < HeaderLen {
		return fmt.Errorf("%w: got %d bytes", ErrNoHeaderRoom, len(buf))
	}
	n := uint64(len(buf) - HeaderLen)
	if n > math.MaxUint32 {
		return fmt.Errorf("%w: %d > %d", ErrTooLong, n, uint32(math.MaxUint32))
	}
	buf[0], buf[1] = Version, ^byte(Version)
	binary.BigEndian.PutUint16(buf[2:4], uint16(t))
	binary.BigEndian.PutUint32(buf[4:8], uint32(n))
	w.buf = buf[:0]
	m, err := w.w.Write(buf)
	if err == nil && m != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("%w (%s, %d bytes, %d sent; the connection is lost): %w", ErrWrite, t, len(buf), m, err)
		return w.err
	}
	return nil
}
