package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// Errors of a replay, usable with errors.Is.
var (
	// ErrEncrypted: the car's V2G connection is TLS, so its requests cannot be read.
	ErrEncrypted = errors.New("the V2G session is encrypted (TLS): nothing to replay")
	// ErrISO20: the car offers only the parts of ISO 15118-20 this charger
	// does not serve (it serves -20 AC).
	ErrISO20 = errors.New("ISO 15118-20 as this car offers it is not served by this charger")
	// ErrNoSession: the capture holds no SupportedAppProtocolReq of a car.
	ErrNoSession = errors.New("the capture holds no V2G session (no SupportedAppProtocolReq): nothing to replay")
	// ErrProtocol: our charger negotiated another protocol than the one the car's recorded requests speak.
	ErrProtocol = errors.New("our charger negotiated another protocol than the car's recorded requests speak")
)

// CaptureError reports a capture file that could not be read at all.
type CaptureError struct {
	Path string // the file as given
	Err  error  // capture.Open's error
}

func (e *CaptureError) Error() string {
	// Err names the file already.
	return fmt.Sprintf("cannot read the capture: %v (a pcap or pcapng file is needed)", e.Err)
}

func (e *CaptureError) Unwrap() error { return e.Err }

// Config configures a replay; the zero value replays under the soc policy.
type Config struct {
	// Policy is the charger's policy (secc.PolicySoC, PolicyDC, PolicyAC).
	Policy secc.PolicyName
	// Log receives every step at debug level and the charger's own log; nil discards.
	Log *slog.Logger
	// Keys, if set, reads TLS sessions with the secrets of this key log.
	Keys *tlsread.KeyLog
}

// Result is what replaying one capture gave.
type Result struct {
	// Sessions holds one replayed session per SupportedAppProtocolReq of a car, in capture order.
	Sessions []Session
	// ReadErr is set when the capture is damaged or cut short: the frames before were replayed.
	ReadErr error
}

// Main returns the session a one-line report speaks of: the first in
// which the car sent SessionSetupReq, else the first; nil when there is none.
func (r *Result) Main() *Session {
	for i := range r.Sessions {
		if r.Sessions[i].Captured.EVCCID != nil {
			return &r.Sessions[i]
		}
	}
	if len(r.Sessions) > 0 {
		return &r.Sessions[0]
	}
	return nil
}

// Session is one connection of the car replayed against a fresh secc.Session.
type Session struct {
	Car, Charger netip.AddrPort
	// SDP is the car's last SDP request before the connection; nil when the capture has none.
	SDP *v2gtp.SDPRequest
	// Offered lists the car's protocols from its SupportedAppProtocolReq, e.g. "urn:din:70121:2012:MsgDef 2.0".
	Offered []string
	// Recorded is the protocol the recorded charger negotiated (or, without its answer, the one the car's requests decode as).
	Recorded secc.Protocol
	// Record is what our charger made of the session: protocol, EVCCID, SoC, answers, end.
	Record record.Session
	// Steps are the car's requests our charger answered, in order.
	Steps []Step
	// Unsent counts the car's recorded requests not sent: our session had ended, or Err stopped the replay.
	Unsent int
	// Captured is what the car sent in the capture itself.
	Captured Captured
	// Err says why the replay stopped before the car's requests ran out
	// or our session ended by itself (no protocol, ISO-20, a request
	// without answer); nil otherwise.
	Err error
}

// Step is one request of the car and our charger's answer.
type Step struct {
	Frame   int          // the capture frame of the car's request
	Request message.Kind // e.g. message.ChargeParameterDiscoveryReq
	Code    string       // our answer's ResponseCode
	// Processing is our answer's EVSEProcessing (Finished, Ongoing) where it has one, else "".
	Processing string
	Err        error // the charger's *secc.RequestError, when the request failed
}

// Captured is what the car sent in the capture, decoded from its own
// requests whatever our charger answered.
type Captured struct {
	Requests int // the car's V2G messages in the connection, SupportedAppProtocolReq included
	// EVCCID is from its first SessionSetupReq: nil if it sent none, empty
	// (not nil) if it sent an empty one, as pyPLC does as a car.
	EVCCID []byte
	// CPD holds the values of its first ChargeParameterDiscoveryReq (SoC,
	// FullSOC, BulkSOC, capacity and request; SoC only in DC); CPDFrame is 0 without one.
	CPD      record.Values
	CPDFrame int
}

// File replays the capture at path; see Run.
func File(ctx context.Context, path string, cfg Config) (Result, error) {
	c, err := capture.Open(path)
	if c == nil {
		return Result{}, &CaptureError{Path: path, Err: err}
	}
	msgs, streams := capture.V2GTPKeys(c.Frames(), cfg.Keys)
	r, rerr := replay(ctx, msgs, streams, cfg)
	r.ReadErr = err
	return r, rerr
}

// Run replays the car's V2G requests among msgs (capture.V2GTP's
// messages) against our charger, one Session per connection of the car.
// The error is ErrEncrypted, ErrNoSession, the first session's Err when
// no session got past the handshake (ErrISO20, secc.ErrNoProtocol), or
// the context's.
func Run(ctx context.Context, msgs []capture.Message, cfg Config) (Result, error) {
	return replay(ctx, msgs, nil, cfg)
}

// conn is one V2G session of a car: its messages and the charger's from
// its SupportedAppProtocolReq on.
type conn struct {
	car, charger netip.AddrPort
	offer        *apphand.SupportedAppProtocolReq
	car2, res    []capture.Message // the car's messages (offer first) and the charger's
}

func replay(ctx context.Context, msgs []capture.Message, streams []capture.Stream, cfg Config) (Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	conns := split(msgs)
	var r Result
	if len(conns) == 0 {
		if encrypted, why := encrypted(msgs, streams); encrypted && why != nil {
			return r, fmt.Errorf("%w: %w", ErrEncrypted, why)
		} else if encrypted {
			return r, ErrEncrypted
		}
		return r, ErrNoSession
	}
	handshaken := false
	for _, c := range conns {
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("replay stopped: %w", err)
		}
		s := play(ctx, c, sdpBefore(msgs, c), cfg)
		handshaken = handshaken || s.Record.Protocol != ""
		r.Sessions = append(r.Sessions, s)
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("replay stopped: %w", err)
		}
	}
	if !handshaken && r.Sessions[0].Err != nil {
		return r, r.Sessions[0].Err
	}
	return r, nil
}

// split cuts the TCP messages into the cars' sessions: each
// SupportedAppProtocolReq starts one, on its 4-tuple.
func split(msgs []capture.Message) []*conn {
	type key struct{ src, dst netip.AddrPort }
	var conns []*conn
	cur := map[key]*conn{}
	for _, m := range msgs {
		if m.Transport != "tcp" {
			continue
		}
		if m.Header.Type == v2gtp.TypeEXI {
			if req, ok := appRequest(m.Payload); ok {
				c := &conn{car: m.Src, charger: m.Dst, offer: req, car2: []capture.Message{m}}
				conns = append(conns, c)
				cur[key{m.Src, m.Dst}] = c
				continue
			}
		}
		if c := cur[key{m.Src, m.Dst}]; c != nil {
			c.car2 = append(c.car2, m)
		} else if c := cur[key{m.Dst, m.Src}]; c != nil {
			c.res = append(c.res, m)
		}
	}
	return conns
}

// encrypted reports signs of a TLS session: a TCP stream of TLS records, or
// an SDP answer that offers TLS; why is what stopped reading it with a key log.
func encrypted(msgs []capture.Message, streams []capture.Stream) (tls bool, why error) {
	for _, s := range streams {
		if s.Transport == "tcp" && s.Reason == capture.ReasonTLS {
			return true, s.TLSErr
		}
	}
	for _, m := range msgs {
		if m.Transport == "udp" && m.Header.Type == v2gtp.TypeSDPResponse {
			if res, err := v2gtp.ParseSDPResponse(m.Payload); err == nil && res.Security == v2gtp.SecurityTLS {
				return true, nil
			}
		}
	}
	return false, nil
}

// sdpBefore returns the car's last SDP request before its session.
func sdpBefore(msgs []capture.Message, c *conn) *capture.Message {
	var last *capture.Message
	for i := range msgs {
		m := &msgs[i]
		if m.Frame >= c.car2[0].Frame {
			break
		}
		if m.Transport == "udp" && m.Header.Type == v2gtp.TypeSDPRequest && m.Src.Addr() == c.car.Addr() {
			last = m
		}
	}
	return last
}

// recorded returns the protocol the recorded charger chose: from its
// SupportedAppProtocolRes, else the codec the car's next request decodes with.
func recorded(c *conn) secc.Protocol {
	for _, m := range c.res {
		if res, ok := appResponse(m.Payload); ok {
			if p := chosen(c.offer, res); p != secc.ProtocolNone {
				return p
			}
			break
		}
	}
	if len(c.car2) < 2 {
		return secc.ProtocolNone
	}
	for _, p := range []secc.Protocol{secc.ProtocolDIN, secc.ProtocolISO2, secc.ProtocolISO20} {
		if _, ok := newCodec(p).decode(c.car2[1].Header.Type, c.car2[1].Payload); ok {
			return p
		}
	}
	return secc.ProtocolNone
}

// play replays one session of the car.
func play(ctx context.Context, c *conn, sdp *capture.Message, cfg Config) Session {
	s := Session{Car: c.car, Charger: c.charger, Offered: offers(c.offer), Recorded: recorded(c)}
	emit := func(e record.Event) { s.Record.Apply(e) }
	if sdp != nil {
		if q, err := v2gtp.ParseSDPRequest(sdp.Payload); err == nil {
			s.SDP = &q
			emit(record.Event{Kind: record.KindSDP, At: sdp.Time})
		}
	}
	start := c.car2[0].Time

	// The charger prefers what the recorded one chose, so that the car's
	// recorded requests fit; the ac policy serves ISO-2 only.
	pref := []secc.Protocol{secc.ProtocolDIN, secc.ProtocolISO2}
	switch {
	case s.Recorded == secc.ProtocolISO20:
		pref = []secc.Protocol{secc.ProtocolISO20, secc.ProtocolDIN, secc.ProtocolISO2} // -20 AC or DC by the car's priority
	case cfg.Policy == secc.PolicyAC:
		pref = []secc.Protocol{secc.ProtocolISO2}
	case s.Recorded == secc.ProtocolISO2:
		pref = []secc.Protocol{secc.ProtocolISO2, secc.ProtocolDIN}
	}
	log := cfg.Log.With("car", c.car.String())
	ours := secc.NewConn(secc.Config{Policy: cfg.Policy, Preference: pref, Log: log}, start, secc.ConnInfo{Peer: c.car, Local: c.charger}, emit)
	sess := ours.Session()

	s.Captured = captured(c, s.Recorded)
	var (
		cod   codec
		ourID []byte
		buf   []byte
		out   []byte
		sent  int
		last  = start
		cause error
	)
	for i, m := range c.car2 {
		if ctx.Err() != nil {
			cause = &secc.Hangup{End: record.EndStopped, Detail: "the replay was stopped"}
			break
		}
		if sess.Done() {
			break
		}
		last = m.Time
		payload := m.Payload
		if cod != nil && ourID != nil {
			if _, ok := cod.decode(m.Header.Type, payload); ok {
				if b, err := cod.reencode(buf[:0], ourID); err == nil {
					buf, payload = b, b
				}
			}
		}
		sent++
		var step secc.Step
		var err error
		h := v2gtp.Header{Type: m.Header.Type, Length: uint32(len(payload))}
		out, step, err = ours.Handle(m.Time, h, payload, out[:0])
		ours.Sent(0)
		if step.Request != message.None && len(out) > 0 {
			s.Steps = append(s.Steps, Step{Frame: m.Frame, Request: step.Request, Code: step.Code, Err: err})
			log.Debug("answered", "frame", m.Frame, "request", step.Request, "code", step.Code, "err", err)
		}
		if i == 0 {
			if err != nil {
				s.Err = err
				if errors.Is(err, secc.ErrNoProtocol) && offersISO20(c.offer) {
					s.Err = fmt.Errorf("%w: %w", ErrISO20, err)
				}
				cause = &secc.Hangup{End: record.EndError, Detail: s.Err.Error()}
				break
			}
			if p := sess.Protocol(); s.Recorded != secc.ProtocolNone && p != s.Recorded {
				// The car's requests are not sent to a protocol they do not speak.
				s.Err = fmt.Errorf("%w: ours is %s, the car's requests are %s", ErrProtocol, record.ProtocolName(p.String()), record.ProtocolName(s.Recorded.String()))
				cause = &secc.Hangup{End: record.EndError, Detail: s.Err.Error()}
				break
			}
			cod = newCodec(sess.Protocol())
			continue
		}
		if len(out) > 0 {
			id, proc := cod.answer(out)
			if id != nil && ourID == nil {
				ourID = append([]byte(nil), id...)
			}
			if n := len(s.Steps); n > 0 && s.Steps[n-1].Frame == m.Frame {
				s.Steps[n-1].Processing = proc
			}
		}
		if err != nil && len(out) == 0 {
			// Nothing to answer with: the charger closes the connection.
			s.Err = err
			cause = err
			break
		}
	}
	s.Unsent = len(c.car2) - sent
	if cause == nil {
		// The car's recorded requests ran out, or our session ended: on a
		// real connection the car would close it now.
		why := "the capture holds no further request"
		if len(s.Steps) == 0 {
			why = "the capture holds no request to answer"
		}
		cause = &secc.CarClosed{Why: why}
	}
	ours.End(last, cause)
	return s
}

// captured decodes the car's requests with the recorded protocol's codec.
func captured(c *conn, p secc.Protocol) Captured {
	k := Captured{Requests: len(c.car2)}
	cod := newCodec(p)
	if cod == nil {
		return k
	}
	for _, m := range c.car2[1:] {
		if _, ok := cod.decode(m.Header.Type, m.Payload); !ok {
			continue
		}
		if id, ok := cod.carID(); ok && k.EVCCID == nil {
			k.EVCCID = append([]byte{}, id...)
		}
		if v, ok := cod.cpd(); ok && k.CPDFrame == 0 {
			k.CPD, k.CPDFrame = v, m.Frame
		}
	}
	return k
}
