package secc

import (
	"errors"
	"fmt"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// Errors of a session; Handle wraps them in a *RequestError.
var (
	// ErrUndecodable: the car's EXI document does not decode.
	ErrUndecodable = errors.New("request does not decode")
	// ErrPayloadType: a V2GTP payload type the session does not take (SDP
	// on TCP, ISO-20's in a DIN or ISO-2 session; in an ISO-20 one, 0x8001
	// and the energy schema not negotiated).
	ErrPayloadType = errors.New("unexpected V2GTP payload type")
	// ErrNotRequest: the document is an answer or empty, not a request.
	ErrNotRequest = errors.New("document is not a request")
	// ErrNoProtocol: the car offered no protocol the charger speaks.
	ErrNoProtocol = errors.New("no common protocol")
	// ErrEnded: a request after the session ended.
	ErrEnded = errors.New("request after the end of the session")
)

// RequestError says which request failed and why; Hex holds the first
// bytes of the car's message for the log (at most MaxExcerpt), Len its length.
type RequestError struct {
	Message message.Kind // the request when known
	Hex     string
	Len     int
	Err     error
}

func (e *RequestError) Error() string {
	msg := e.Message.String()
	if e.Message == message.None {
		msg = "car's message"
	}
	switch {
	case e.Hex != "" && e.Len > len(e.Hex)/2:
		return fmt.Sprintf("%s: %v (%d bytes, the first %d: %s...)", msg, e.Err, e.Len, len(e.Hex)/2, e.Hex)
	case e.Hex != "":
		return fmt.Sprintf("%s: %v (bytes %s)", msg, e.Err, e.Hex)
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// Step is one answered request, for the caller's log and metrics.
type Step struct {
	Request message.Kind // e.g. message.ChargeParameterDiscoveryReq
	Code    string       // the answer's ResponseCode
}

// handler is the state machine of one protocol behind the handshake.
type handler interface {
	handle(now time.Time, payload []byte, dst []byte) ([]byte, Step, error)
	// accepts reports whether the protocol's messages come in V2GTP
	// payload type t, and notes it and now for the request that follows.
	accepts(t v2gtp.PayloadType, now time.Time) bool
	deadline() time.Time
	done() bool
}

// Session is the charger's side of one TCP connection: SupportedAppProtocol,
// then the DIN or ISO-2 machine. It does no I/O: Handle takes the car's
// message and returns the answer, so a test can drive it with a fake clock.
type Session struct {
	cfg   Config
	emit  func(record.Event)
	start time.Time
	last  time.Time
	m     handler
	ended bool
	ids   *sessionIDs
	conn  ConnInfo // the connection it runs on
	// declined: the handshake was answered Failed_NoNegotiation by Config.Decline.
	declined bool
}

// sessionIDs keeps a plug-in's SessionID across TCP connections, so a car
// that reconnects can rejoin (OK_OldSessionJoined).
type sessionIDs struct{ id [8]byte }

// NewSession starts the session of a new TCP connection at now; emit
// receives what the car told (nil: nobody listens).
func NewSession(cfg Config, now time.Time, emit func(record.Event)) *Session {
	if emit == nil {
		emit = func(record.Event) {}
	}
	return &Session{cfg: cfg.withDefaults(), emit: emit, start: now, last: now, ids: &sessionIDs{}}
}

// Handle answers one V2GTP message of the car, appending the framed answer
// to dst. A non-nil error is a *RequestError; the answer may still hold a
// FAILED response to send before the car closes the connection.
func (s *Session) Handle(now time.Time, h v2gtp.Header, payload []byte, dst []byte) ([]byte, Step, error) {
	s.last = now
	ok := h.Type == v2gtp.TypeEXI
	if !s.ended && s.m != nil {
		ok = s.m.accepts(h.Type, now)
	}
	if !ok {
		return dst, Step{}, &RequestError{Err: fmt.Errorf("%w: %v", ErrPayloadType, h.Type)}
	}
	if s.ended {
		return dst, Step{}, &RequestError{Err: ErrEnded}
	}
	if s.m == nil {
		return s.handshake(now, payload, dst)
	}
	start := len(dst)
	// The answer comes in the request's payload type (ISO-20: its schema's).
	dst = v2gtp.AppendHeader(dst, v2gtp.Header{Type: h.Type})
	out, step, err := s.m.handle(now, payload, dst)
	if len(out) == start+v2gtp.HeaderLen {
		out = out[:start]
	} else {
		setLength(out[start:])
	}
	if s.m.done() {
		s.ended = true
	}
	return out, step, err
}

func setLength(msg []byte) {
	n := uint32(len(msg) - v2gtp.HeaderLen)
	msg[4], msg[5], msg[6], msg[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

func (s *Session) handshake(now time.Time, payload []byte, dst []byte) ([]byte, Step, error) {
	var doc apphand.Document
	step := Step{Request: message.SupportedAppProtocolReq}
	if _, err := apphand.Unmarshal(payload, &doc); err != nil {
		return dst, step, &RequestError{Message: step.Request, Hex: hexExcerpt(payload), Len: len(payload), Err: fmt.Errorf("%w: %w", ErrUndecodable, err)}
	}
	if doc.SupportedAppProtocolReq == nil {
		return dst, step, &RequestError{Message: step.Request, Hex: hexExcerpt(payload), Len: len(payload), Err: ErrNotRequest}
	}
	o, ok := Negotiate(doc.SupportedAppProtocolReq, s.cfg.Preference)
	if s.cfg.Decline != nil && s.cfg.Decline(s.conn) {
		o, ok, s.declined = Offer{}, false, true
	}
	res := answerAppHand(o, ok)
	step.Code = res.SupportedAppProtocolRes.ResponseCode.String()
	start := len(dst)
	dst = v2gtp.AppendHeader(dst, v2gtp.Header{Type: v2gtp.TypeEXI})
	dst, err := apphand.Append(dst, res)
	if err != nil {
		return dst[:start], step, &RequestError{Message: step.Request, Err: err}
	}
	setLength(dst[start:])
	if s.declined {
		// What the car offered is still its fingerprint.
		s.ended = true
		s.emit(record.Event{Kind: record.KindHandshake, At: now, Offered: offeredList(doc.SupportedAppProtocolReq)})
		return dst, step, nil
	}
	if !ok {
		s.ended = true
		return dst, step, &RequestError{Message: step.Request, Err: fmt.Errorf("%w: the car offers %s", ErrNoProtocol, offered(doc.SupportedAppProtocolReq))}
	}
	s.emit(record.Event{Kind: record.KindHandshake, At: now, Protocol: o.Protocol.String(), Namespace: o.Namespace, Offered: offeredList(doc.SupportedAppProtocolReq)})
	switch o.Protocol {
	case ProtocolDIN:
		s.m = newEngine(&s.cfg, s.ids, now, s.emit, newDINAdapter(&s.cfg))
	case ProtocolISO2:
		s.m = newEngine(&s.cfg, s.ids, now, s.emit, newISO2Adapter(&s.cfg))
	case ProtocolISO20:
		s.m = newEngine(&s.cfg, s.ids, now, s.emit, newISO20Adapter(&s.cfg, o.Namespace == NamespaceISO20DC))
	}
	return dst, step, nil
}

// offeredList is what the car offered, for the record (a car's fingerprint).
func offeredList(req *apphand.SupportedAppProtocolReq) []record.AppProtocol {
	l := make([]record.AppProtocol, len(req.AppProtocol))
	for i, ap := range req.AppProtocol {
		l[i] = record.AppProtocol{Namespace: ap.ProtocolNamespace, Major: ap.VersionNumberMajor, Minor: ap.VersionNumberMinor, SchemaID: ap.SchemaID, Priority: ap.Priority}
	}
	return l
}

func offered(req *apphand.SupportedAppProtocolReq) string {
	s := ""
	for i, ap := range req.AppProtocol {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d.%d", ap.ProtocolNamespace, ap.VersionNumberMajor, ap.VersionNumberMinor)
	}
	if s == "" {
		return "nothing"
	}
	return s
}

// Deadline returns when the car's next request is overdue (V2G_SECC_Sequence_Timeout).
func (s *Session) Deadline() time.Time {
	if s.m != nil {
		return s.m.deadline()
	}
	return s.last.Add(s.cfg.SequenceTimeout)
}

// Done reports whether the session is over: SessionStop answered, or a
// FAILED answer sent. The charger then waits for the car to close TCP.
func (s *Session) Done() bool { return s.ended }

// Declined reports whether the car's protocols were declined (Config.Decline).
func (s *Session) Declined() bool { return s.declined }

// Protocol returns the negotiated protocol, ProtocolNone before the handshake.
func (s *Session) Protocol() Protocol {
	if e, ok := s.m.(*engine); ok {
		return e.proto
	}
	return ProtocolNone
}
