package evcc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// Config is one session of a car.
type Config struct {
	Profile Profile
	// EVCCID is the car's ID in SessionSetupReq, usually its interface's
	// MAC; zero means Profile.SessionMAC().
	EVCCID [6]byte
	// ResponseTimeout, if set, replaces V2G_EVCC_Msg_Timeout of every
	// request (for a charger slower than the standards allow). The wait
	// for an answer needs a conn with SetDeadline (a net.Conn); on other
	// conns the car waits as long as the conn does.
	ResponseTimeout time.Duration
	// Paced makes the car wait Profile.Think between an answer and its
	// next request, as the real car does; unpaced, it asks at once.
	Paced bool
	// LoopInterval, if set, is the time from one ISO 15118-20 charge
	// loop request to the next, on Clock; zero means Profile.LoopInterval
	// when Paced, else none: the car loops as fast as the charger answers.
	LoopInterval time.Duration
	// Clock times the answers, the pacing and the phases that repeat a
	// request (cable check, pre-charge, Ongoing); nil means clock.Real.
	Clock clock.Clock
	// Log receives one debug line per exchange; nil means none.
	Log *slog.Logger
	// Negotiated, if set, is called once the charger accepted one of the
	// car's protocols: from then on the car has held a V2G session
	// (PilotCar.SessionHeld). A car answered Failed_NoNegotiation never
	// has: it charges on basic AC as if it had no digital communication.
	Negotiated func()
}

// End says why a session ended.
type End uint8

// Reasons for the end of a session.
const (
	EndNone          End = iota // the session did not get far enough to end
	EndComplete                 // the car charged its rounds and stopped with SessionStop
	EndShutdown                 // the charger asked to stop (EVSE_Shutdown, StopCharging, ...); the car stopped with SessionStop
	EndCarStopped               // the car stopped on its own (full, hybrid, gave up waiting)
	EndFailed                   // the charger answered a FAILED response code; the car closes TCP
	EndNoNegotiation            // the charger accepted none of the car's protocols: no V2G session; the car charges on basic AC (IEC 61851-1)
	EndNoService                // the charger offers no energy transfer the car can use; the car stopped with SessionStop
	EndTimeout                  // the charger did not answer in time
	EndClosed                   // the charger closed the connection
	EndError                    // an answer the car cannot use, or a failed write
	EndCanceled                 // the context was canceled
)

var endNames = [...]string{"none", "complete", "EVSE shutdown", "car stopped", "charger said FAILED",
	"no protocol negotiated", "no usable service", "timeout", "connection closed", "protocol error", "canceled"}

// String returns the reason in words.
func (e End) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return fmt.Sprintf("End(%d)", e)
}

// MarshalText returns the reason in words, for JSON reports.
func (e End) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Step is one request of the car and the charger's answer.
type Step struct {
	Request  message.Kind  // e.g. message.ChargeParameterDiscoveryReq
	Response string        // the answer's ResponseCode, e.g. "OK"; "" if none came
	RTT      time.Duration // from writing the request to reading the answer
}

// Sent is what the car told the charger in ChargeParameterDiscoveryReq.
type Sent struct {
	EVCCID                [6]byte
	SoC, FullSOC, BulkSOC int   // percent; -1 = not sent
	CapacityWh, RequestWh int64 // multiplier applied; -1 = not sent
	EAmountWh             int64 // AC; -1 = not sent
}

// Result is what happened in one session.
type Result struct {
	Protocol  string // "din", "iso2" or "iso20"; "" before the handshake
	Namespace string
	SessionID []byte
	Mode      string // requested energy transfer, e.g. "DC_extended"
	Sent      Sent
	// SoCs are the PresentSOCs of an ISO 15118-20 charge loop, as sent.
	SoCs []int
	// ScheduleTupleID is the ScheduleTuple an ISO 15118-20 car in
	// scheduled mode selected and followed; 0 in dynamic mode.
	ScheduleTupleID uint32
	Steps           []Step
	End             End
}

// Errors of Run; they are wrapped with the step that failed. A timer that
// ran out is a *TimerError, which matches ErrTimeout.
var (
	ErrTimeout     = errors.New("evcc: the charger did not answer in time")
	ErrClosed      = errors.New("evcc: the charger closed the connection")
	ErrBadResponse = errors.New("evcc: the charger's answer does not fit the car's request")
	ErrEncode      = errors.New("evcc: the car's request does not encode (check the profile's values)")
	ErrWrite       = errors.New("evcc: the request could not be written")
)

// finish ends a session early without an error.
type finish End

func (f finish) Error() string { return End(f).String() }

// Run plays the car's session over conn, which is already connected to the
// charger, until it ends. It closes nothing: it returns once the car would
// close TCP. The error is nil when the session ended by protocol (SessionStop,
// FAILED, no protocol, the car's own stop); Result holds the steps either way.
// On a conn without SetDeadline, a canceled ctx is noticed between
// exchanges only.
func Run(ctx context.Context, conn io.ReadWriter, cfg Config) (Result, error) {
	s := &session{
		ctx: ctx, conn: conn, rd: v2gtp.NewReader(conn), p: cfg.Profile,
		timeout: cfg.ResponseTimeout, log: cfg.Log, tupleID: 1, paced: cfg.Paced, clk: cfg.Clock,
		negotiated: cfg.Negotiated, loopEvery: cfg.LoopInterval,
	}
	if s.loopEvery == 0 && cfg.Paced {
		s.loopEvery = cfg.Profile.LoopInterval
	}
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.evccid = cfg.EVCCID
	if s.evccid == ([6]byte{}) {
		s.evccid = s.p.SessionMAC()
	}
	s.res.Sent = Sent{EVCCID: s.evccid, SoC: -1, FullSOC: -1, BulkSOC: -1, CapacityWh: -1, RequestWh: -1, EAmountWh: -1}
	if d, ok := conn.(deadliner); ok {
		s.dl = d
		// Deferred in this order, the cancel hook is gone before the
		// deadline is cleared, so the conn is left without one.
		defer d.SetDeadline(time.Time{})
		stop := context.AfterFunc(ctx, func() { d.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	err := s.run() // never nil: a normal end is a finish
	var f finish
	switch {
	case errors.As(err, &f):
		s.res.End, err = End(f), nil
	case ctx.Err() != nil:
		s.res.End, err = EndCanceled, fmt.Errorf("evcc: session canceled: %w", ctx.Err())
	case errors.Is(err, ErrTimeout):
		s.res.End = EndTimeout
	case errors.Is(err, ErrClosed):
		s.res.End = EndClosed
	default:
		s.res.End = EndError
	}
	return s.res, err
}

type deadliner interface{ SetDeadline(time.Time) error }

type session struct {
	ctx     context.Context
	conn    io.ReadWriter
	dl      deadliner
	rd      *v2gtp.Reader
	p       Profile
	timeout time.Duration // Config.ResponseTimeout
	paced   bool
	clk     clock.Clock
	phase   phase // the loop in progress, if any
	log     *slog.Logger
	evccid  [6]byte
	sid     []byte
	buf     []byte
	res     Result
	send    sendFunc // the protocol's, once negotiated
	// stream is the V2GTP payload type of the next request: ISO-20's
	// schemas have their own; zero means 0x8001.
	stream v2gtp.PayloadType

	// loopEvery is the time between ISO-20 charge loop requests, loopAt
	// when the last one started.
	loopEvery time.Duration
	loopAt    time.Time
	// schedule is the ScheduleTuple an ISO-20 car in scheduled mode
	// follows.
	schedule iso20Schedule

	serviceID uint16 // ChargeService of ServiceDiscoveryRes
	tupleID   uint16 // ISO-2 SAScheduleTupleID of ChargeParameterDiscoveryRes
	ac        bool   // ISO-2: the session charges AC
	mode      iso2.EnergyTransferModeType

	negotiated func() // Config.Negotiated
}

func (s *session) run() error {
	proto, err := s.handshake()
	if err != nil {
		return err
	}
	if s.negotiated != nil {
		s.negotiated()
	}
	switch message.ProtocolOf(proto.ProtocolNamespace) {
	case message.ProtocolDIN:
		// No capture shows a charger choosing Tesla's namespace; the car
		// then speaks DIN, as this project's charger expects.
		s.res.Protocol = "din"
		return s.runDIN()
	case message.ProtocolISO2:
		s.res.Protocol = "iso2"
		return s.runISO2()
	case message.ProtocolISO20AC:
		s.res.Protocol = "iso20"
		return s.runISO20()
	case message.ProtocolISO20DC:
		s.res.Protocol = "iso20"
		return s.runISO20DC()
	}
	return fmt.Errorf("%w: the charger chose %s, which this car cannot speak", ErrBadResponse, proto.ProtocolNamespace)
}

// handshake offers the profile's protocols and returns the chosen one.
func (s *session) handshake() (apphand.AppProtocolType, error) {
	req := apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: s.p.Protocols}}
	const name = message.SupportedAppProtocolReq
	b, err := apphand.Append(s.message(), &req)
	if err != nil {
		return apphand.AppProtocolType{}, fmt.Errorf("%w: %s: %w", ErrEncode, name, err)
	}
	p, rtt, err := s.exchange(name, b, V2G_EVCC_Msg_Timeout)
	if err != nil {
		return apphand.AppProtocolType{}, err
	}
	var doc apphand.Document
	if _, err := apphand.Unmarshal(p, &doc); err != nil {
		s.step(name, "", rtt)
		return apphand.AppProtocolType{}, fmt.Errorf("%w: %s answered with undecodable bytes: %w", ErrBadResponse, name, err)
	}
	res := doc.SupportedAppProtocolRes
	if res == nil {
		s.step(name, "", rtt)
		return apphand.AppProtocolType{}, fmt.Errorf("%w: %s answered with another message", ErrBadResponse, name)
	}
	s.step(name, res.ResponseCode.String(), rtt)
	if res.ResponseCode == apphand.ResponseCodeFailed_NoNegotiation {
		return apphand.AppProtocolType{}, finish(EndNoNegotiation)
	}
	if res.SchemaID == nil {
		return apphand.AppProtocolType{}, fmt.Errorf("%w: %s accepted without a SchemaID", ErrBadResponse, name)
	}
	for _, ap := range s.p.Protocols {
		if ap.SchemaID == *res.SchemaID {
			s.res.Namespace = ap.ProtocolNamespace
			return ap, nil
		}
	}
	return apphand.AppProtocolType{}, fmt.Errorf("%w: %s chose SchemaID %d, which the car did not offer", ErrBadResponse, name, *res.SchemaID)
}

// message returns the send buffer with room for the V2GTP header.
func (s *session) message() []byte {
	if cap(s.buf) < 512 {
		s.buf = make([]byte, v2gtp.HeaderLen, 512)
	}
	return s.buf[:v2gtp.HeaderLen]
}

// exchange sends msg (its first HeaderLen bytes reserved for the header)
// and reads the answer's EXI payload, valid until the next exchange;
// timeout is the request's V2G_EVCC_Msg_Timeout.
func (s *session) exchange(name message.Kind, msg []byte, timeout time.Duration) ([]byte, time.Duration, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, 0, err
	}
	if s.paced && s.p.Think > 0 && len(s.res.Steps) > 0 {
		t := s.clk.NewTimer(s.p.Think)
		select {
		case <-t.C():
		case <-s.ctx.Done():
			t.Stop()
			return nil, 0, s.ctx.Err()
		}
	}
	if err := s.phaseRequest(name); err != nil {
		return nil, 0, err
	}
	if s.timeout > 0 {
		timeout = s.timeout
	}
	s.buf = msg[:0]
	typ := s.stream
	if typ == 0 {
		typ = v2gtp.TypeEXI
	}
	v2gtp.AppendHeader(msg[:0], v2gtp.Header{Type: typ, Length: uint32(len(msg) - v2gtp.HeaderLen)})
	start := s.clk.Now()
	disarm := s.arm(timeout)
	doing, other := "writing", ErrWrite
	var h v2gtp.Header
	var p []byte
	_, err := s.conn.Write(msg)
	if err == nil {
		doing, other = "waiting for the answer to", ErrBadResponse
		h, p, err = s.rd.Next()
	}
	fired := disarm()
	rtt := s.clk.Now().Sub(start)
	if err != nil {
		s.step(name, "", rtt)
		if fired && s.ctx.Err() == nil {
			return nil, rtt, &TimerError{Timer: TimerMsg, Limit: timeout, Request: name, Requests: 1, Elapsed: rtt}
		}
		return nil, rtt, s.ioError(name, doing, err, other)
	}
	if h.Type != typ {
		s.step(name, "", rtt)
		return nil, rtt, fmt.Errorf("%w: %s answered with V2GTP payload type %s", ErrBadResponse, name, h.Type)
	}
	return p, rtt, nil
}

// arm starts the timer of one answer: when it fires, the conn's deadline
// moves to the past, which ends the write or read in progress. disarm
// stops it and reports whether it fired (the deadline is then cleared
// again, should the answer have come at that very moment).
func (s *session) arm(timeout time.Duration) (disarm func() bool) {
	if s.dl == nil {
		return func() bool { return false }
	}
	t := s.clk.NewTimer(timeout)
	stop := make(chan struct{})
	fired := make(chan bool, 1)
	go func() {
		select {
		case <-t.C():
			s.dl.SetDeadline(time.Unix(1, 0))
			fired <- true
		case <-stop:
			t.Stop()
			fired <- false
		}
	}()
	return func() bool {
		close(stop)
		if <-fired {
			s.dl.SetDeadline(time.Time{})
			return true
		}
		return false
	}
}

// ioError turns a conn error into one of Run's errors.
func (s *session) ioError(name message.Kind, doing string, err, other error) error {
	switch {
	case s.ctx.Err() != nil:
		return s.ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded): // a deadline the caller set on conn
		return fmt.Errorf("%w while %s %s: %w", ErrTimeout, doing, name, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w while %s %s: %w", ErrClosed, doing, name, err)
	}
	return fmt.Errorf("%w: %s %s: %w", other, doing, name, err)
}

func (s *session) step(req message.Kind, code string, rtt time.Duration) {
	s.res.Steps = append(s.res.Steps, Step{Request: req, Response: code, RTT: rtt})
	s.log.Debug("evcc exchange", "car", s.p.Name, "request", req, "response", code, "rtt", rtt)
}

// setSessionID keeps the SessionID of SessionSetupRes for every later request.
func (s *session) setSessionID(id []byte) error {
	if len(id) == 0 || len(id) > 8 {
		return fmt.Errorf("%w: SessionSetupRes carries a SessionID of %d bytes (1 to 8 allowed)", ErrBadResponse, len(id))
	}
	s.sid = bytes.Clone(id)
	s.res.SessionID = s.sid
	return nil
}

// wh applies the multiplier of an energy value.
func wh(v *Physical) int64 {
	if v == nil {
		return -1
	}
	return int64(v.Float())
}

func (s *session) noteSent() {
	p := s.p
	s.res.Sent.SoC, s.res.Sent.FullSOC, s.res.Sent.BulkSOC = p.SoC, p.FullSOC, p.BulkSOC
	s.res.Sent.CapacityWh, s.res.Sent.RequestWh = wh(p.Capacity), wh(p.Request)
}

// loopPace waits, before ISO-20 charge loop request i, until loopEvery
// has passed since the previous one started.
func (s *session) loopPace(i int) error {
	if s.loopEvery <= 0 {
		return nil
	}
	if d := s.loopEvery - s.clk.Now().Sub(s.loopAt); i > 0 && d > 0 {
		t := s.clk.NewTimer(d)
		select {
		case <-t.C():
		case <-s.ctx.Done():
			t.Stop()
			return s.ctx.Err()
		}
	}
	s.loopAt = s.clk.Now()
	return nil
}

func (s *session) rounds() int {
	if s.p.Rounds > 0 {
		return s.p.Rounds
	}
	return DefaultRounds
}

// Limits of the DC loops that wait for the charger's voltage.
const (
	preChargeTolerance = 20.0 // V between EVSEPresentVoltage and the target
	weldingVoltage     = 60.0 // V under which the contactors count as open
	maxWeldingRounds   = 10
)

func voltageClose(present, target float64) bool {
	d := present - target
	return d <= preChargeTolerance && d >= -preChargeTolerance
}
