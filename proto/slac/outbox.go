package slac

import "github.com/ccslink/ccslink/proto/homeplug"

// outbox collects the frames one step of a state machine sends. The frames
// share one buffer that is reused by the next step, so a matching allocates
// only while the buffers grow.
type outbox struct {
	buf    []byte
	ends   []int
	frames [][]byte
}

func (o *outbox) reset() {
	o.buf = o.buf[:0]
	o.ends = o.ends[:0]
}

// add appends the frame carrying msg from src to dst.
func (o *outbox) add(dst, src homeplug.MAC, msg homeplug.Message) {
	b, err := homeplug.AppendFrame(o.buf, homeplug.NewHeader(dst, src, msg.MMType()), msg)
	if err != nil {
		// Only malformed messages fail to encode, and we build them all here.
		panic("slac: encoding " + msg.MMType().String() + ": " + err.Error())
	}
	o.buf = b
	o.ends = append(o.ends, len(o.buf))
}

// addRaw appends an already encoded frame.
func (o *outbox) addRaw(frame []byte) {
	o.buf = append(o.buf, frame...)
	o.ends = append(o.ends, len(o.buf))
}

// result returns the frames added since the last reset.
func (o *outbox) result() [][]byte {
	o.frames = o.frames[:0]
	start := 0
	for _, end := range o.ends {
		o.frames = append(o.frames, o.buf[start:end:end])
		start = end
	}
	return o.frames
}
