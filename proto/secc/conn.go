package secc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// ConnInfo is what the transport knows of a connection: who is at each end
// and, over TLS, the handshake's outcome.
type ConnInfo struct {
	Peer  netip.AddrPort // the car's address and port
	Local netip.AddrPort // the charger's
	// TLS is the connection's state after its handshake; nil for plain TCP.
	TLS *tls.ConnectionState
}

// TLSVersion is the connection's TLS version, "1.2" or "1.3" (the versions
// V2G uses; an older one by its name); "" for plain TCP.
func (i ConnInfo) TLSVersion() string {
	switch {
	case i.TLS == nil:
		return ""
	case i.TLS.Version == tls.VersionTLS12:
		return "1.2"
	case i.TLS.Version == tls.VersionTLS13:
		return "1.3"
	}
	return tls.VersionName(i.TLS.Version)
}

// TLSWords names a connection's TLS version and cipher suite, e.g.
// "TLS 1.3 TLS_AES_128_GCM_SHA256"; "" for plain TCP.
func (i ConnInfo) TLSWords() string {
	if i.TLS == nil {
		return ""
	}
	return tls.VersionName(i.TLS.Version) + " " + tls.CipherSuiteName(i.TLS.CipherSuite)
}

// ConnInfo returns the connection the session runs on (zero when it runs on none).
func (s *Session) ConnInfo() ConnInfo { return s.conn }

// Conn is one connection's Session together with everything the connection
// reports: the events of its start, of each answer sent and of its end all
// leave through it, so a transport only moves bytes and says why it stopped.
// The TCP server and the replay of a capture drive it alike. Like Session,
// it does no I/O and reads no clock.
type Conn struct {
	sess *Session
	emit func(record.Event)
	// step is the request Handle answered last, until Sent reports it; at is when it came.
	step   Step
	at     time.Time
	last   Step // the last request whose answer was sent
	ended  bool
	end    record.End
	detail string
}

// NewConn starts the session of a connection described by info at now and
// emits its KindConnected event; emit receives every event of the
// connection (nil: nobody listens).
func NewConn(cfg Config, now time.Time, info ConnInfo, emit func(record.Event)) *Conn {
	if emit == nil {
		emit = func(record.Event) {}
	}
	c := &Conn{sess: NewSession(cfg, now, emit), emit: emit, at: now}
	c.sess.conn = info
	emit(record.Event{Kind: record.KindConnected, At: now, TLS: info.TLSWords(), TLSVersion: info.TLSVersion()})
	return c
}

// Session returns the connection's session.
func (c *Conn) Session() *Session { return c.sess }

// Handle answers one V2GTP message of the car as Session.Handle does; once
// the answer is on its way, Sent reports it.
func (c *Conn) Handle(now time.Time, h v2gtp.Header, payload []byte, dst []byte) ([]byte, Step, error) {
	out, step, err := c.sess.Handle(now, h, payload, dst)
	c.step, c.at = Step{}, now
	if step.Request != message.None && len(out) > len(dst) {
		c.step = step
	}
	return out, step, err
}

// Sent reports that the answer Handle returned last went out, took after
// its request came (decode, decide, encode and write): the KindRequest event.
func (c *Conn) Sent(took time.Duration) {
	if c.step.Request == message.None {
		return
	}
	c.last = c.step
	c.emit(record.Event{Kind: record.KindRequest, At: c.at, Message: c.step.Request, Code: c.step.Code, Took: took})
	c.step = Step{}
}

// Last returns the last request whose answer was sent.
func (c *Conn) Last() Step { return c.last }

// Deadline returns when the transport stops waiting for the car: its next
// request's V2G_SECC_Sequence_Timeout, or, once the session is over,
// CloseWait after the last request, for the car to close the connection.
func (c *Conn) Deadline() time.Time {
	if c.sess.Done() {
		return c.at.Add(CloseWait)
	}
	return c.sess.Deadline()
}

// Hangup is a transport's own verdict on how a connection ended (the
// charger stopping, the car gone from the link), which the session's state
// does not change.
type Hangup struct {
	End    record.End
	Detail string
}

func (h *Hangup) Error() string {
	if h.Detail == "" {
		return h.End.Words()
	}
	return h.End.Words() + ": " + h.Detail
}

// WriteError reports that the answer to Request could not be sent.
type WriteError struct {
	Request message.Kind
	Err     error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("writing the answer to %s: %v", e.Request, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// CarClosed is a transport's word that the car's side ended without an
// error: io.EOF says the same without words; a replay says its capture
// holds no further request.
type CarClosed struct{ Why string }

func (e *CarClosed) Error() string {
	if e.Why == "" {
		return "the car closed the connection"
	}
	return e.Why
}

// End ends the connection's session for cause, what stopped its transport,
// and emits the KindEnded event at at; it returns how the session ended
// (the same on every later call, which emits nothing). A cause is one of:
// nil, io.EOF, net.ErrClosed or a *CarClosed (the car closed the
// connection); os.ErrDeadlineExceeded (no request before Deadline); a
// V2GTP framing error; the *RequestError of a request left without answer;
// a *WriteError; a *Hangup; anything else is a failed read.
func (c *Conn) End(at time.Time, cause error) (record.End, string) {
	if c.ended {
		return c.end, c.detail
	}
	c.ended = true
	c.end, c.detail = c.ending(cause)
	c.emit(record.Event{Kind: record.KindEnded, At: at, End: c.end, Detail: c.detail})
	return c.end, c.detail
}

func (c *Conn) ending(cause error) (record.End, string) {
	done, last := c.sess.Done(), c.last
	var (
		hang   *Hangup
		wrote  *WriteError
		closed *CarClosed
		req    *RequestError
	)
	switch {
	case errors.As(cause, &hang):
		return hang.End, hang.Detail
	case errors.As(cause, &wrote):
		return record.EndCarClosed, wrote.Error()
	case errors.As(cause, &req):
		// Nothing to answer with: the stream cannot go on.
		return record.EndError, cause.Error()
	case c.sess.declined:
		if errors.Is(cause, os.ErrDeadlineExceeded) {
			return record.EndNoNegotiation, fmt.Sprintf("the car kept the connection open %v after %s answered %s", CloseWait, last.Request, last.Code)
		}
		return record.EndNoNegotiation, ""
	case done && last.Request == message.SessionStopReq:
		if errors.Is(cause, os.ErrDeadlineExceeded) {
			return record.EndSessionStop, fmt.Sprintf("the car kept the connection open %v after SessionStop", CloseWait)
		}
		return record.EndSessionStop, ""
	case cause == nil, errors.Is(cause, io.EOF), errors.Is(cause, net.ErrClosed), errors.As(cause, &closed):
		if done {
			return record.EndCarClosed, fmt.Sprintf("after %s answered %s", last.Request, last.Code)
		}
		if closed != nil {
			return record.EndCarClosed, closed.Why
		}
		return record.EndCarClosed, ""
	case errors.Is(cause, os.ErrDeadlineExceeded):
		if done {
			return record.EndCarClosed, fmt.Sprintf("the car kept the connection open %v after %s answered %s", CloseWait, last.Request, last.Code)
		}
		return record.EndTimeout, fmt.Sprintf("no request within %v after %s", c.sess.cfg.SequenceTimeout, afterRequest(last.Request))
	case errors.Is(cause, v2gtp.ErrVersion), errors.Is(cause, v2gtp.ErrTooLong):
		return record.EndError, fmt.Sprintf("bad V2GTP message: %v", cause)
	}
	return record.EndCarClosed, cause.Error()
}

// afterRequest names what came last on a connection: its last request, or its opening.
func afterRequest(k message.Kind) string {
	if k == message.None {
		return "the connection opened"
	}
	return k.String()
}
