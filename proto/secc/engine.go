package secc

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// state is where a session stands: the phase it waits for, or ended.
type state uint8

const (
	// stEnded follows the last phase a session waits for: after SessionStop or a FAILED answer.
	stEnded   = state(PhaseSessionStop)
	numStates = stEnded + 1
)

func (s state) expect() Phase { return Phase(s) }

// code is a ResponseCode in the model's words; each adapter has the table
// of its own.
type code uint8

const (
	codeOK             code = iota
	codeFailed              // FAILED
	codeUnknownSession      // FAILED_UnknownSession
	codeSequence            // FAILED_SequenceError
	codeWrongEnergy         // FAILED_WrongEnergyTransferType (DIN), FAILED_WrongEnergyTransferMode (ISO-2)
	numCodes
)

// cpdForm is how a ChargeParameterDiscoveryRes says an outcome in every
// protocol: its code, EVSEProcessing Ongoing, and the charger's DC status
// EVSE_Shutdown.
func cpdForm(o Outcome) (c code, ongoing, shutdown bool) {
	switch o {
	case Ongoing:
		return codeOK, true, false
	case Shutdown:
		return codeOK, true, true
	case Fail:
		return codeFailed, false, true
	case WrongEnergy:
		return codeWrongEnergy, false, false
	}
	return codeOK, false, false
}

// codecKind is a generated codec's MessageKind.
type codecKind interface {
	~uint8
	Message() message.Kind
}

// phaseTable maps each of a codec's n message kinds to the phase it asks
// for; a kind that is no request the charger knows maps to NumPhases.
func phaseTable[K codecKind](n K, phases map[K]Phase) []Phase {
	t := make([]Phase, n)
	for k := range t {
		t[k] = NumPhases
	}
	for k, p := range phases {
		t[k] = p
	}
	return t
}

// codecDoc and codecBody are a generated codec's *Document and *BodyType.
type codecDoc[B codecBody[K], K codecKind] interface {
	Body() B
	SessionID() []byte
}

type codecBody[K codecKind] interface {
	comparable
	Kind() K
}

// decoded starts r from what a codec made of a message, d and err: its
// kind (known even when the rest does not decode), phase and SessionID. It
// returns d's body (nil when d holds no V2G_Message) and kind; the error is
// what Handle reports, and what names the protocol's message ("a DIN").
func decoded[D codecDoc[B, K], B codecBody[K], K codecKind](r *Request, d D, err error, phases []Phase, what string) (B, K, error) {
	var kind K
	b := d.Body()
	var none B
	if b != none {
		kind = b.Kind()
	}
	*r = Request{Phase: phases[kind], kind: kind.Message(), request: phases[kind] < NumPhases, sessionID: d.SessionID()}
	switch r.kind {
	case message.CurrentDemandReq:
		r.Energy = EnergyDC
	case message.ChargingStatusReq:
		r.Energy = EnergyAC
	}
	switch {
	case b == none:
		return b, kind, fmt.Errorf("%w: not %s V2G_Message", ErrUndecodable, what)
	case err != nil:
		return b, kind, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	return b, kind, nil
}

// targets records the targets of a request (PreCharge, CurrentDemand),
// where it has them, as value reads them.
func targets[V any](r *Request, voltage, current *V, value func(V) float64) {
	if voltage != nil {
		r.TargetVoltageV = value(*voltage)
	}
	if current != nil {
		r.TargetCurrentA = value(*current)
	}
}

// dcStatus records the SoC of a DC request's status (CableCheck, PreCharge,
// CurrentDemand, WeldingDetection) with the targets the request carries.
func (r *Request) dcStatus(soc int8) {
	v := opt{r.TargetVoltageV, r.Phase == PhasePreCharge || r.Phase == PhaseChargeLoop}
	i := opt{r.TargetCurrentA, r.Phase == PhaseChargeLoop}
	r.Values, r.HasValues = statusValues(int(soc), v, i), true
}

// adapter is one protocol's side of the session: it decodes the car's
// messages into the model and encodes the charger's decisions into its own.
type adapter interface {
	protocol() Protocol
	// decode reads payload into r (reset first); an error wraps
	// ErrUndecodable, and r.kind and r.request hold what is known.
	decode(payload []byte, r *Request) error
	// allowed is the protocol's state table: whether st accepts the request just decoded.
	allowed(st state) bool
	stateName(st state) string
	// answer encodes d as the answer to the request just decoded and returns its ResponseCode.
	answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error)
	// release hands the adapter on to a later session once its own has
	// ended; the adapter is not used again.
	release()
	// failed encodes the answer with code c and the mandatory fields at
	// their most cautious values; ok is false for a request the charger
	// never answers.
	failed(dst []byte, c code, sid []byte) (out []byte, rc string, ok bool, err error)
}

// streamed is an adapter whose messages come in V2GTP payload types other
// than 0x8001 (ISO-20: one per schema); accept reports whether t is one
// and notes it, and the time of the request, for decode and the answers.
type streamed interface {
	accept(t v2gtp.PayloadType, now time.Time) bool
}

// sequenced is an adapter whose protocol orders its requests its own way
// (ISO-20: authorization before the services, a schedule after the
// parameters): after returns the state that follows decision d on r in
// st, stEnded when the session ends; expect names a state's phase.
type sequenced interface {
	after(st state, r *Request, d *Decision) state
	expect(st state) Phase
}

// pooled returns an adapter of an ended session from p, or a new one that
// init has prepared.
func pooled[A any](p *sync.Pool, init func(*A)) *A {
	if a, ok := p.Get().(*A); ok {
		return a
	}
	a := new(A)
	init(a)
	return a
}

// made is what an adapter makes of its configuration, read only: the
// EVSEID in the protocol's form and the schedule of its maximum power. A
// reused adapter keeps them while the configuration is the same.
type made[ID any, S comparable] struct {
	evseID   ID
	schedule S
	idOf     string
	maxW     float64
}

func (m *made[ID, S]) of(cfg *Config, id func(string) ID, schedule func(float64) S) {
	var none S
	if m.schedule == none || m.idOf != cfg.EVSEID || m.maxW != cfg.Limits.MaxPowerW {
		m.idOf, m.maxW = cfg.EVSEID, cfg.Limits.MaxPowerW
		m.evseID, m.schedule = id(cfg.EVSEID), schedule(cfg.Limits.MaxPowerW)
	}
}

// engine runs a protocol behind the handshake: the SessionID, the
// sequence, the policy, the events; the adapter does the protocol's part.
type engine struct {
	cfg   *Config
	ids   *sessionIDs
	emit  func(record.Event)
	a     adapter // nil once the session has ended
	proto Protocol
	pol   Policy
	st    state
	last  time.Time
	// ac: an AC session (the car's AC ChargeParameterDiscovery accepted);
	// closing: a decision ended the attempt (Decision.Closing).
	ac, closing, ended bool
	req                Request
	prog               Progress
	d                  Decision
}

// newEngine starts a protocol's session; until the car's SessionSetupReq
// chooses one, the configured policy stands.
func newEngine(cfg *Config, ids *sessionIDs, now time.Time, emit func(record.Event), a adapter) *engine {
	return &engine{cfg: cfg, ids: ids, emit: emit, a: a, proto: a.protocol(), pol: NewPolicy(cfg.Policy), last: now}
}

func (e *engine) deadline() time.Time { return e.last.Add(e.cfg.SequenceTimeout) }

func (e *engine) accepts(t v2gtp.PayloadType, now time.Time) bool {
	if s, ok := e.a.(streamed); ok {
		return s.accept(t, now)
	}
	return t == v2gtp.TypeEXI
}
func (e *engine) done() bool { return e.ended }

func (e *engine) handle(now time.Time, payload []byte, dst []byte) ([]byte, Step, error) {
	out, step, err := e.step(now, payload, dst)
	if e.ended && e.a != nil {
		// The request's slices are the adapter's memory, which goes too.
		e.a.release()
		e.a, e.req = nil, Request{}
	}
	return out, step, err
}

func (e *engine) step(now time.Time, payload []byte, dst []byte) ([]byte, Step, error) {
	e.last = now
	r := &e.req
	derr := e.a.decode(payload, r)
	step := Step{Request: r.kind}
	if derr != nil {
		rerr := &RequestError{Hex: hexExcerpt(payload), Len: len(payload), Err: derr}
		if !r.request {
			e.ended = true
			return dst, step, rerr
		}
		rerr.Message = step.Request
		return e.fail(dst, &step, codeFailed, rerr)
	}
	if !r.request {
		e.ended = true
		return dst, step, &RequestError{Message: step.Request, Hex: hexExcerpt(payload), Len: len(payload), Err: ErrNotRequest}
	}
	if r.Phase != PhaseSessionSetup && !bytes.Equal(r.sessionID, e.ids.id[:]) {
		return e.fail(dst, &step, codeUnknownSession,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: SessionID %x, the session's is %x", ErrUnknownSession, r.sessionID, e.ids.id[:])})
	}
	e.prog = Progress{Now: now, Protocol: e.proto, Expect: e.st.expect(), AC: e.ac, Config: e.cfg}
	if s, ok := e.a.(sequenced); ok {
		e.prog.Expect = s.expect(e.st)
	}
	if e.closing && r.MovesOn {
		e.values(now, r, record.Values{SoC: r.Values.SoC, Display: r.Values.Display})
		e.d = Decision{Outcome: Fail}
		return e.answer(dst, &step, r, &e.d)
	}
	if !e.a.allowed(e.st) {
		return e.fail(dst, &step, codeSequence,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: %s while %s", ErrSequence, step.Request, e.a.stateName(e.st))})
	}
	if r.Phase == PhaseSessionSetup {
		e.setup(now, r)
	}
	if r.HasValues {
		// Out before the answer is encoded: the values are what the charger is for.
		e.values(now, r, r.Values)
	}
	e.d = e.pol.Decide(&e.prog, r)
	e.next(r, &e.d)
	return e.answer(dst, &step, r, &e.d)
}

// setup gives the session its SessionID (or rejoins it) and its policy.
func (e *engine) setup(now time.Time, r *Request) {
	if e.ids.id != ([8]byte{}) && bytes.Equal(r.sessionID, e.ids.id[:]) {
		e.prog.Joined = true
	} else {
		e.ids.id = e.cfg.NewSessionID()
	}
	id := append([]byte(nil), r.EVCCID...)
	e.emit(record.Event{Kind: record.KindSessionSetup, At: now, EVCCID: id})
	var p Policy
	if e.cfg.ChoosePolicy != nil {
		p = e.cfg.ChoosePolicy(CarInfo{Protocol: e.proto, EVCCID: append([]byte(nil), id...)})
	}
	if p == nil {
		p = NewPolicy(e.cfg.Policy)
	}
	e.pol = p
}

// next moves the session on after decision d, as every protocol's sequence does.
func (e *engine) next(r *Request, d *Decision) {
	if d.Closing {
		e.closing = true
	}
	if d.Outcome == Fail || d.Outcome == WrongEnergy {
		e.st, e.ended = stEnded, true
		return
	}
	if s, ok := e.a.(sequenced); ok {
		if r.Phase == PhaseChargeParameterDiscovery && r.Energy == EnergyAC && d.Outcome == Continue {
			e.ac = true
		}
		e.st = s.after(e.st, r, d)
		e.ended = e.st == stEnded
		return
	}
	switch r.Phase {
	case PhaseSessionSetup, PhaseServiceDiscovery, PhasePaymentSelection, PhaseAuthorization:
		e.st = state(r.Phase + 1)
	case PhaseChargeParameterDiscovery:
		switch {
		case d.Outcome == Shutdown:
		case r.Energy == EnergyAC:
			e.ac = true
			e.st = state(PhasePowerDelivery)
		default:
			// Ongoing too: the car may go on to CableCheck, or stop (PowerDelivery).
			e.st = state(PhaseCableCheck)
		}
	case PhaseCableCheck:
		if d.Outcome == Continue {
			e.st = state(PhasePreCharge)
		}
	case PhasePreCharge:
		e.st = state(PhasePowerDelivery)
	case PhasePowerDelivery:
		switch {
		case r.ReadyToCharge:
			e.st = state(PhaseChargeLoop)
		case r.Renegotiate:
			e.st = state(PhaseChargeParameterDiscovery)
		default:
			// Stop: after the charge loop comes WeldingDetection; a car
			// stopping right after ChargeParameterDiscovery goes to SessionStop.
			e.st = state(PhaseWeldingDetection)
		}
	case PhaseSessionStop:
		e.st, e.ended = stEnded, true
	}
}

// answer encodes d; a FAILED answer ends the session (next has said so).
func (e *engine) answer(dst []byte, step *Step, r *Request, d *Decision) ([]byte, Step, error) {
	if d.Outcome == Fail {
		e.st, e.ended = stEnded, true
	}
	var out []byte
	var rc string
	var err error
	if d.Outcome == Fail && r.Phase != PhaseChargeParameterDiscovery {
		// A FAILED ChargeParameterDiscovery shows the charger's limits at
		// EVSE_Shutdown; any other request gets the cautious FAILED answer.
		out, rc, _, err = e.a.failed(dst, codeFailed, e.ids.id[:])
	} else {
		out, rc, err = e.a.answer(dst, &e.prog, r, d, e.ids.id[:])
	}
	step.Code = rc
	if err != nil {
		e.ended = true
		return dst, *step, &RequestError{Message: step.Request, Err: fmt.Errorf("encoding the answer: %w", err)}
	}
	return out, *step, nil
}

// fail answers with c and ends the session: after a FAILED answer the car
// closes the connection.
func (e *engine) fail(dst []byte, step *Step, c code, rerr error) ([]byte, Step, error) {
	e.st, e.ended = stEnded, true
	out, rc, ok, err := e.a.failed(dst, c, e.ids.id[:])
	if !ok {
		return dst, *step, rerr
	}
	step.Code = rc
	if err != nil {
		return dst, *step, &RequestError{Message: step.Request, Err: fmt.Errorf("encoding the answer: %w", err)}
	}
	return out, *step, rerr
}

func (e *engine) values(now time.Time, r *Request, v record.Values) {
	e.emit(record.Event{Kind: record.KindValues, At: now, Message: r.kind, Values: v})
}
