package secc

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// ISO 15118-20 AC and DC with EIM. Each request is a document of its
// schema: CommonMessages in V2GTP payload type 0x8002, AC in 0x8003, DC in
// 0x8004; the answer goes back in the request's type. The namespace the
// car and the charger agreed on (AC or DC) fixes the energy schema. Every message has a Header with the
// SessionID and a TimeStamp (the charger's: the request's time, Unix
// seconds).

// iso20Kind is a request of ISO-20 the charger knows, over both schemas.
type iso20Kind uint8

const (
	k20None iso20Kind = iota
	k20SessionSetup
	k20AuthorizationSetup
	k20Authorization
	k20ServiceDiscovery
	k20ServiceDetail
	k20ServiceSelection
	k20ChargeParameterDiscovery // AC_ or DC_ChargeParameterDiscoveryReq
	k20ScheduleExchange
	k20PowerDelivery
	k20ChargeLoop // AC_ or DC_ChargeLoopReq
	k20SessionStop
	k20CableCheck       // DC_CableCheckReq
	k20PreCharge        // DC_PreChargeReq
	k20WeldingDetection // DC_WeldingDetectionReq
	k20Other            // a request the charger never serves (certificates, metering, check-in)
	numISO20Kinds
)

var iso20Phases = [numISO20Kinds]Phase{k20None: NumPhases, k20SessionSetup: PhaseSessionSetup,
	k20AuthorizationSetup: PhaseAuthorization, k20Authorization: PhaseAuthorization, k20ServiceDiscovery: PhaseServiceDiscovery,
	k20ServiceDetail: PhaseServiceDetail, k20ServiceSelection: PhasePaymentSelection,
	k20ChargeParameterDiscovery: PhaseChargeParameterDiscovery, k20ScheduleExchange: PhaseScheduleExchange,
	k20PowerDelivery: PhasePowerDelivery, k20ChargeLoop: PhaseChargeLoop, k20SessionStop: PhaseSessionStop,
	k20CableCheck: PhaseCableCheck, k20PreCharge: PhasePreCharge, k20WeldingDetection: PhaseWeldingDetection, k20Other: NumPhases}

// The states of an ISO-20 session: the requests it waits for.
const (
	s20SessionSetup state = iota
	s20AuthorizationSetup
	s20Authorization
	s20ServiceDiscovery
	s20ServiceSelection // ServiceDetail or ServiceSelection
	s20ChargeParameterDiscovery
	s20ScheduleExchange
	s20PowerDelivery
	s20ChargeLoop
	s20SessionStop // after PowerDelivery(stop)
)

// DC's own states follow the engine's stEnded, which both share.
const (
	s20CableCheck = stEnded + 1 + iota
	s20PreCharge
	s20WeldingDetection // after PowerDelivery(stop)
	s20NumStates
)

// iso20Allowed is ISO-20's sequence, AC's ([0]) and DC's ([1]): the
// requests each state accepts, the request that led to it again, and
// SessionStopReq after SessionSetup.
var iso20Allowed = [2][s20NumStates][numISO20Kinds]bool{iso20Table(false), iso20Table(true)}

func iso20Table(isDC bool) (t [s20NumStates][numISO20Kinds]bool) {
	allow := func(s state, kinds ...iso20Kind) {
		for _, k := range kinds {
			t[s][k] = true
		}
	}
	allow(s20SessionSetup, k20SessionSetup)
	allow(s20AuthorizationSetup, k20AuthorizationSetup, k20SessionSetup)
	allow(s20Authorization, k20Authorization, k20AuthorizationSetup)
	allow(s20ServiceDiscovery, k20ServiceDiscovery, k20Authorization)
	allow(s20ServiceSelection, k20ServiceDetail, k20ServiceSelection, k20ServiceDiscovery)
	allow(s20ChargeParameterDiscovery, k20ChargeParameterDiscovery, k20ServiceSelection)
	allow(s20ScheduleExchange, k20ScheduleExchange, k20ChargeParameterDiscovery)
	allow(s20ChargeLoop, k20ChargeLoop, k20PowerDelivery)
	if isDC {
		// The isolation check and the precharge, each repeated while the
		// charger is at work, between the schedule and PowerDelivery.
		allow(s20CableCheck, k20CableCheck, k20ScheduleExchange)
		allow(s20PreCharge, k20PreCharge, k20CableCheck)
		allow(s20PowerDelivery, k20PowerDelivery, k20PreCharge)
		allow(s20WeldingDetection, k20WeldingDetection, k20PowerDelivery)
	} else {
		allow(s20PowerDelivery, k20PowerDelivery, k20ScheduleExchange)
		allow(s20SessionStop, k20PowerDelivery)
	}
	for s := s20AuthorizationSetup; s < s20NumStates; s++ {
		if s != stEnded {
			allow(s, k20SessionStop)
		}
	}
	return t
}

var iso20StateNames = [2][s20NumStates]string{{"WaitForSessionSetupReq", "WaitForAuthorizationSetupReq", "WaitForAuthorizationReq",
	"WaitForServiceDiscoveryReq", "WaitForServiceSelectionReq", "WaitForAC_ChargeParameterDiscoveryReq", "WaitForScheduleExchangeReq",
	"WaitForPowerDeliveryReq", "WaitForAC_ChargeLoopReq", "WaitForSessionStopReq", "Ended"},
	{"WaitForSessionSetupReq", "WaitForAuthorizationSetupReq", "WaitForAuthorizationReq",
		"WaitForServiceDiscoveryReq", "WaitForServiceSelectionReq", "WaitForDC_ChargeParameterDiscoveryReq", "WaitForScheduleExchangeReq",
		"WaitForPowerDeliveryReq", "WaitForDC_ChargeLoopReq", "WaitForSessionStopReq", "Ended",
		"WaitForDC_CableCheckReq", "WaitForDC_PreChargeReq", "WaitForDC_WeldingDetectionReq"}}

var iso20Expect = [s20NumStates]Phase{PhaseSessionSetup, PhaseAuthorization, PhaseAuthorization, PhaseServiceDiscovery,
	PhasePaymentSelection, PhaseChargeParameterDiscovery, PhaseScheduleExchange, PhasePowerDelivery, PhaseChargeLoop,
	PhaseSessionStop, PhaseSessionStop, PhaseCableCheck, PhasePreCharge, PhaseWeldingDetection}

// The AC service as the charger offers it: ServiceID 1 (AC), two
// parameter sets: three phases at 230 V, the car telling its mobility
// needs, no pricing, in dynamic mode (ID 1) or scheduled mode (ID 2)
// (ISO 15118-20, 8.4.3.2.2: ControlMode 1 Scheduled, 2 Dynamic).
const (
	iso20ServiceAC = 1
	// iso20ParameterSet and iso20ScheduledSet are the parameter sets of
	// dynamic and scheduled mode, in AC and DC alike.
	iso20ParameterSet = 1
	iso20ScheduledSet = 2
	// iso20TupleID is the one ScheduleTuple offered in scheduled mode,
	// iso20ScheduleS its PowerSchedule's length (24 h).
	iso20TupleID   = 1
	iso20ScheduleS = 24 * 60 * 60
	// iso20MaxPowerW and iso20MinPowerW: three phases of 32 A (ISO-2's
	// EVSEMaxCurrent) and of 6 A at 230 V.
	iso20MaxPowerW = 3 * 32 * 230
	iso20MinPowerW = 3 * 6 * 230
)

// Read-only parts the answers point to.
var (
	iso20EIM         = []iso20.AuthorizationType{iso20.AuthorizationEIM}
	iso20EIMMode     = &iso20.EIM_ASResAuthorizationModeType{}
	iso20ACServices  = iso20.ServiceListType{Service: []iso20.ServiceType{{ServiceID: iso20ServiceAC, FreeService: true}}}
	iso20ACParameter = iso20Sets(func(mode int32) []iso20.ParameterType {
		i := func(v int32) *int32 { return &v }
		return []iso20.ParameterType{
			{Name: "Connector", IntValue: i(2)},            // ThreePhase
			{Name: "ControlMode", IntValue: i(mode)},       // 2 Dynamic, 1 Scheduled
			{Name: "EVSENominalVoltage", IntValue: i(230)}, // V
			{Name: "MobilityNeedsMode", IntValue: i(1)},    // ProvidedByEvcc
			{Name: "Pricing", IntValue: i(0)},              // NoPricing
		}
	})
	iso20Dynamic = &iso20.Dynamic_SEResControlModeType{}
	// DC: ServiceID 2, the same two parameter sets: the core connector,
	// the car telling its mobility needs, no pricing, dynamic or
	// scheduled.
	iso20DCServices  = iso20.ServiceListType{Service: []iso20.ServiceType{{ServiceID: iso20ServiceDC, FreeService: true}}}
	iso20DCParameter = iso20Sets(func(mode int32) []iso20.ParameterType {
		i := func(v int32) *int32 { return &v }
		return []iso20.ParameterType{
			{Name: "Connector", IntValue: i(1)},         // Core
			{Name: "ControlMode", IntValue: i(mode)},    // 2 Dynamic, 1 Scheduled
			{Name: "MobilityNeedsMode", IntValue: i(1)}, // ProvidedByEvcc
			{Name: "Pricing", IntValue: i(0)},           // NoPricing
		}
	})
)

// iso20Sets is the parameter list of a service: the dynamic set first, as
// before scheduled mode was served, then the scheduled one.
func iso20Sets(params func(controlMode int32) []iso20.ParameterType) iso20.ServiceParameterListType {
	return iso20.ServiceParameterListType{ParameterSet: []iso20.ParameterSetType{
		{ParameterSetID: iso20ParameterSet, Parameter: params(2)},
		{ParameterSetID: iso20ScheduledSet, Parameter: params(1)},
	}}
}

// iso20ServiceDC is the DC service's ServiceID (ISO 15118-20, 8.4.3.1).
const iso20ServiceDC = 2

// iso20Adapter is ISO 15118-20's side of the charger's session.
type iso20Adapter struct {
	cfg *Config
	// dc: the session is -20 DC (its namespace negotiated), else AC.
	dc bool
	// stream and now are the payload type and time of the request being
	// handled (accept).
	stream v2gtp.PayloadType
	now    time.Time
	kind   iso20Kind
	// The decoders reuse their memory: a request is valid until the next.
	dec   iso20.Decoder
	acDec ac.Decoder
	req   *iso20.Document
	acReq *ac.Document
	dcDec dc.Decoder
	dcReq *dc.Document
	// invalid: the request asks for what the charger does not offer (a
	// service, a parameter set, a schedule, the other control mode):
	// answered with refusal, a FAILED code, which ends the session.
	invalid bool
	refusal iso20.ResponseCodeType
	// pnc: the car selected Plug & Charge, which is not offered.
	pnc bool
	// scheduled: the charge loop request is in scheduled mode.
	scheduled bool
	// schedMode: the car selected scheduled mode (ServiceSelection), else
	// dynamic; every later request of the session keeps to it.
	schedMode bool
	ans       iso20Answers
	evseID    string
	idOf      string
}

// iso20Answers holds the answers' parts for reuse.
type iso20Answers struct {
	doc    iso20.Document
	acDoc  ac.Document
	setup  iso20.SessionSetupResType
	aset   iso20.AuthorizationSetupResType
	auth   iso20.AuthorizationResType
	sd     iso20.ServiceDiscoveryResType
	detail iso20.ServiceDetailResType
	sel    iso20.ServiceSelectionResType
	se     iso20.ScheduleExchangeResType
	pd     iso20.PowerDeliveryResType
	ss     iso20.SessionStopResType
	cpd    ac.AC_ChargeParameterDiscoveryResType
	cpdm   ac.AC_CPDResEnergyTransferModeType
	cl     ac.AC_ChargeLoopResType
	dyn    ac.Dynamic_AC_CLResControlModeType
	sched  ac.Scheduled_AC_CLResControlModeType
	status iso20.EVSEStatusType
	dcDoc  dc.Document
	dcpd   dc.DC_ChargeParameterDiscoveryResType
	dcpdm  dc.DC_CPDResEnergyTransferModeType
	cable  dc.DC_CableCheckResType
	pre    dc.DC_PreChargeResType
	dcl    dc.DC_ChargeLoopResType
	dcdyn  dc.Dynamic_DC_CLResControlModeType
	dcsch  dc.Scheduled_DC_CLResControlModeType
	weld   dc.DC_WeldingDetectionResType
	// Scheduled mode: the one tuple offered, its one entry, the loops'
	// optional values.
	sse    iso20.Scheduled_SEResControlModeType
	tuple  [1]iso20.ScheduleTupleType
	entry  [1]iso20.PowerScheduleEntryType
	target iso20.RationalNumberType
	dclim  [4]iso20.RationalNumberType
}

func newISO20Adapter(cfg *Config, isDC bool) *iso20Adapter {
	a := pooled(&iso20Adapters, func(*iso20Adapter) {})
	a.cfg, a.dc, a.kind, a.req, a.acReq, a.dcReq = cfg, isDC, k20None, nil, nil, nil
	a.schedMode = false
	if a.evseID == "" || a.idOf != cfg.EVSEID {
		a.idOf, a.evseID = cfg.EVSEID, iso2EVSEID(cfg.EVSEID)
	}
	return a
}

// iso20Adapters holds the adapters of ended sessions for the next ones.
var iso20Adapters sync.Pool

func (a *iso20Adapter) release() {
	a.cfg, a.req, a.acReq, a.dcReq = nil, nil, nil, nil
	a.ans.doc, a.ans.acDoc, a.ans.dcDoc = iso20.Document{}, ac.Document{}, dc.Document{}
	iso20Adapters.Put(a)
}

func (a *iso20Adapter) protocol() Protocol        { return ProtocolISO20 }
func (a *iso20Adapter) allowed(st state) bool     { return iso20Allowed[b2i(a.dc)][st][a.kind] }
func (a *iso20Adapter) stateName(st state) string { return iso20StateNames[b2i(a.dc)][st] }
func (a *iso20Adapter) expect(st state) Phase     { return iso20Expect[st] }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// energyType is the payload type of the session's energy schema.
func (a *iso20Adapter) energyType() v2gtp.PayloadType {
	if a.dc {
		return v2gtp.TypeISO20DC
	}
	return v2gtp.TypeISO20AC
}

func (a *iso20Adapter) accept(t v2gtp.PayloadType, now time.Time) bool {
	if t != v2gtp.TypeISO20CommonMessages && t != a.energyType() {
		return false
	}
	a.stream, a.now = t, now
	return true
}

// after is ISO-20's sequence.
func (a *iso20Adapter) after(st state, r *Request, d *Decision) state {
	if a.invalid {
		return stEnded
	}
	switch a.kind {
	case k20SessionSetup:
		return s20AuthorizationSetup
	case k20AuthorizationSetup:
		return s20Authorization
	case k20Authorization:
		if a.pnc {
			return s20Authorization
		}
		return s20ServiceDiscovery
	case k20ServiceDiscovery, k20ServiceDetail:
		return s20ServiceSelection
	case k20ServiceSelection:
		return s20ChargeParameterDiscovery
	case k20ChargeParameterDiscovery:
		return s20ScheduleExchange
	case k20ScheduleExchange:
		if a.dc {
			return s20CableCheck
		}
		return s20PowerDelivery
	case k20CableCheck:
		if d.Outcome == Ongoing {
			return s20CableCheck
		}
		return s20PreCharge
	case k20PreCharge:
		return s20PowerDelivery
	case k20WeldingDetection:
		return s20WeldingDetection
	case k20PowerDelivery:
		switch {
		case r.ReadyToCharge:
			return s20ChargeLoop
		case r.Renegotiate:
			return s20ScheduleExchange
		case a.dc:
			return s20WeldingDetection
		}
		return s20SessionStop
	case k20SessionStop:
		return stEnded
	}
	return st
}

// decode reads the request of the stream accept noted: its kind, its
// Header's SessionID and what it tells.
func (a *iso20Adapter) decode(payload []byte, r *Request) error {
	a.kind, a.invalid, a.refusal, a.pnc, a.scheduled = k20None, false, iso20.ResponseCodeOK, false, false
	*r = Request{Phase: NumPhases}
	var h *iso20.MessageHeaderType
	var err error
	switch a.stream {
	case v2gtp.TypeISO20DC:
		a.dcReq, _, err = a.dcDec.Decode(payload)
		d := a.dcReq
		r.kind = d.Message()
		switch {
		case d.DC_ChargeParameterDiscoveryReq != nil:
			a.kind, h = k20ChargeParameterDiscovery, &d.DC_ChargeParameterDiscoveryReq.Header
		case d.DC_CableCheckReq != nil:
			a.kind, h = k20CableCheck, &d.DC_CableCheckReq.Header
		case d.DC_PreChargeReq != nil:
			a.kind, h = k20PreCharge, &d.DC_PreChargeReq.Header
		case d.DC_ChargeLoopReq != nil:
			a.kind, h = k20ChargeLoop, &d.DC_ChargeLoopReq.Header
		case d.DC_WeldingDetectionReq != nil:
			a.kind, h = k20WeldingDetection, &d.DC_WeldingDetectionReq.Header
		}
	case v2gtp.TypeISO20AC:
		a.acReq, _, err = a.acDec.Decode(payload)
		d := a.acReq
		r.kind = d.Message()
		switch {
		case d.AC_ChargeParameterDiscoveryReq != nil:
			a.kind, h = k20ChargeParameterDiscovery, &d.AC_ChargeParameterDiscoveryReq.Header
		case d.AC_ChargeLoopReq != nil:
			a.kind, h = k20ChargeLoop, &d.AC_ChargeLoopReq.Header
		}
	default:
		a.req, _, err = a.dec.Decode(payload)
		d := a.req
		r.kind = d.Message()
		switch {
		case d.SessionSetupReq != nil:
			a.kind, h = k20SessionSetup, &d.SessionSetupReq.Header
		case d.AuthorizationSetupReq != nil:
			a.kind, h = k20AuthorizationSetup, &d.AuthorizationSetupReq.Header
		case d.AuthorizationReq != nil:
			a.kind, h = k20Authorization, &d.AuthorizationReq.Header
		case d.ServiceDiscoveryReq != nil:
			a.kind, h = k20ServiceDiscovery, &d.ServiceDiscoveryReq.Header
		case d.ServiceDetailReq != nil:
			a.kind, h = k20ServiceDetail, &d.ServiceDetailReq.Header
		case d.ServiceSelectionReq != nil:
			a.kind, h = k20ServiceSelection, &d.ServiceSelectionReq.Header
		case d.ScheduleExchangeReq != nil:
			a.kind, h = k20ScheduleExchange, &d.ScheduleExchangeReq.Header
		case d.PowerDeliveryReq != nil:
			a.kind, h = k20PowerDelivery, &d.PowerDeliveryReq.Header
		case d.SessionStopReq != nil:
			a.kind, h = k20SessionStop, &d.SessionStopReq.Header
		case r.kind.IsRequest():
			a.kind = k20Other
		}
	}
	r.Phase = iso20Phases[a.kind]
	r.request = a.kind != k20None
	if h != nil {
		r.sessionID = h.SessionID
	}
	switch {
	case r.kind == message.None:
		return fmt.Errorf("%w: not an ISO 15118-20 %s message", ErrUndecodable, iso20Schema(a.stream))
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	a.read(r)
	// WeldingDetection comes after the charge, not towards it: a car told
	// to terminate may still check its contactors.
	r.MovesOn = movesOn(r) && a.kind != k20WeldingDetection
	return nil
}

// read fills r with what the request just decoded tells.
func (a *iso20Adapter) read(r *Request) {
	switch a.kind {
	case k20SessionSetup:
		r.EVCCID = iso20EVCCID(a.req.SessionSetupReq.EVCCID)
	case k20Authorization:
		a.pnc = a.req.AuthorizationReq.SelectedAuthorizationService != iso20.AuthorizationEIM
	case k20ServiceDetail:
		a.refuse(a.req.ServiceDetailReq.ServiceID != a.service(), iso20.ResponseCodeFAILED_ServiceIDInvalid)
	case k20ServiceSelection:
		s := a.req.ServiceSelectionReq.SelectedEnergyTransferService
		a.schedMode = s.ParameterSetID == iso20ScheduledSet
		a.refuse(s.ServiceID != a.service() || s.ParameterSetID != iso20ParameterSet && !a.schedMode, iso20.ResponseCodeFAILED_ServiceSelectionInvalid)
	case k20ScheduleExchange:
		// The control mode is the one the car selected.
		se := a.req.ScheduleExchangeReq
		dyn, sch := se.Dynamic_SEReqControlMode, se.Scheduled_SEReqControlMode
		switch {
		case a.schedMode && sch != nil:
			r.Values, r.HasValues = iso20ScheduledGoalValues(sch), true
		case !a.schedMode && dyn != nil:
			r.Values, r.HasValues = iso20GoalValues(dyn), true
		default:
			a.refuse(true, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid)
		}
	case k20PowerDelivery:
		pd := a.req.PowerDeliveryReq
		p := pd.ChargeProgress
		r.ReadyToCharge = p == iso20.ChargeProgressStart
		r.Renegotiate = p == iso20.ChargeProgressScheduleRenegotiation
		a.checkProfile(pd)
	case k20ChargeParameterDiscovery:
		if a.dc {
			if m := a.dcReq.DC_ChargeParameterDiscoveryReq.DC_CPDReqEnergyTransferMode; m != nil {
				r.Energy = EnergyDC
				r.Values, r.HasValues = iso20DCCPDValues(m), true
			}
			return
		}
		if m := a.acReq.AC_ChargeParameterDiscoveryReq.AC_CPDReqEnergyTransferMode; m != nil {
			r.Energy = EnergyAC
			r.Values, r.HasValues = iso20CPDValues(m), true
		}
	case k20PreCharge:
		r.TargetVoltageV = iso20Value(a.dcReq.DC_PreChargeReq.EVTargetVoltage)
	case k20ChargeLoop:
		if a.dc {
			l := a.dcReq.DC_ChargeLoopReq
			r.Energy = EnergyDC
			a.scheduled = l.Scheduled_DC_CLReqControlMode != nil
			r.TargetVoltageV, r.TargetCurrentA = iso20DCTargets(l)
			r.Values, r.HasValues = ISO20DCLoopValues(l), true
		} else {
			l := a.acReq.AC_ChargeLoopReq
			r.Energy = EnergyAC
			a.scheduled = l.Scheduled_AC_CLReqControlMode != nil
			r.Values, r.HasValues = ISO20LoopValues(l), true
		}
		// A loop in the other control mode than the one selected is
		// FAILED (its values are still recorded).
		a.refuse(a.scheduled != a.schedMode, iso20.ResponseCodeFAILED)
	}
}

// refuse marks the request as asking for what the charger does not offer,
// answered with code, when bad.
func (a *iso20Adapter) refuse(bad bool, code iso20.ResponseCodeType) {
	if bad {
		a.invalid, a.refusal = true, code
	}
}

// checkProfile checks the EVPowerProfile of a PowerDeliveryReq: in
// scheduled mode the car starts with the tuple it follows, which must be
// the one offered; a scheduled profile in dynamic mode selects what was
// never offered.
func (a *iso20Adapter) checkProfile(pd *iso20.PowerDeliveryReqType) {
	var sel *iso20.Scheduled_EVPPTControlModeType
	if pd.EVPowerProfile != nil {
		sel = pd.EVPowerProfile.Scheduled_EVPPTControlMode
	}
	switch {
	case !a.schedMode:
		a.refuse(sel != nil, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid)
	case pd.ChargeProgress != iso20.ChargeProgressStart:
	case sel == nil:
		a.refuse(true, iso20.ResponseCodeFAILED_EVPowerProfileInvalid)
	default:
		a.refuse(sel.SelectedScheduleTupleID != iso20TupleID, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid)
	}
}

// service is the energy service of the session's namespace.
func (a *iso20Adapter) service() uint16 {
	if a.dc {
		return iso20ServiceDC
	}
	return iso20ServiceAC
}

func iso20Schema(t v2gtp.PayloadType) string {
	switch t {
	case v2gtp.TypeISO20AC:
		return "AC"
	case v2gtp.TypeISO20DC:
		return "DC"
	}
	return "CommonMessages"
}

// iso20EVCCID is the EVCCID of ISO-20's text: a MAC in hex (with or
// without colons) as its six bytes, anything else (a VIN) as its bytes.
func iso20EVCCID(s string) []byte {
	h := strings.ReplaceAll(s, ":", "")
	if len(h) == 12 {
		if b, err := hex.DecodeString(h); err == nil {
			return b
		}
	}
	return []byte(s)
}

// iso20Codes are the model's codes in ISO-20's words.
var iso20Codes = [numCodes]iso20.ResponseCodeType{codeOK: iso20.ResponseCodeOK, codeFailed: iso20.ResponseCodeFAILED,
	codeUnknownSession: iso20.ResponseCodeFAILED_UnknownSession, codeSequence: iso20.ResponseCodeFAILED_SequenceError,
	codeWrongEnergy: iso20.ResponseCodeFAILED_WrongChargeParameter}

func (a *iso20Adapter) failed(dst []byte, c code, sid []byte) ([]byte, string, bool, error) {
	if a.kind == k20None || a.kind == k20Other {
		return dst, "", false, nil
	}
	out, rc, err := a.build(dst, iso20Codes[c], true, nil, sid)
	return out, rc, true, err
}

// answer encodes the answer of an allowed request.
func (a *iso20Adapter) answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error) {
	code := iso20.ResponseCodeOK
	switch {
	case a.kind == k20SessionSetup && p.Joined:
		code = iso20.ResponseCodeOK_OldSessionJoined
	case a.kind == k20SessionSetup:
		code = iso20.ResponseCodeOK_NewSessionEstablished
	case a.kind == k20Authorization && a.pnc:
		code = iso20.ResponseCodeWARNING_AuthorizationSelectionInvalid
	case a.invalid:
		code = a.refusal
	case d.Outcome == WrongEnergy:
		code = iso20Codes[codeWrongEnergy]
	case d.Outcome == Fail:
		code = iso20.ResponseCodeFAILED
	}
	// A refused request gets the cautious values of a FAILED answer.
	return a.build(dst, code, a.invalid, d, sid)
}

// build encodes the answer of the request just decoded with code; failed
// gives the mandatory fields their most cautious values (no power).
func (a *iso20Adapter) build(dst []byte, code iso20.ResponseCodeType, failed bool, d *Decision, sid []byte) ([]byte, string, error) {
	x := &a.ans
	hd := iso20.MessageHeaderType{SessionID: sid, TimeStamp: uint64(max(a.now.Unix(), 0))}
	maxW, minW := float64(iso20MaxPowerW), float64(iso20MinPowerW)
	if failed {
		maxW, minW = 0, 0
	}
	common := true
	x.doc, x.acDoc, x.dcDoc = iso20.Document{}, ac.Document{}, dc.Document{}
	if a.dc {
		switch a.kind {
		case k20ChargeParameterDiscovery, k20CableCheck, k20PreCharge, k20ChargeLoop, k20WeldingDetection:
			return a.buildDC(dst, hd, code, failed, d)
		}
	}
	switch a.kind {
	case k20SessionSetup:
		x.setup = iso20.SessionSetupResType{Header: hd, ResponseCode: code, EVSEID: a.evseID}
		x.doc.SessionSetupRes = &x.setup
	case k20AuthorizationSetup:
		x.aset = iso20.AuthorizationSetupResType{Header: hd, ResponseCode: code, AuthorizationServices: iso20EIM, EIM_ASResAuthorizationMode: iso20EIMMode}
		x.doc.AuthorizationSetupRes = &x.aset
	case k20Authorization:
		x.auth = iso20.AuthorizationResType{Header: hd, ResponseCode: code, EVSEProcessing: iso20.ProcessingFinished}
		x.doc.AuthorizationRes = &x.auth
	case k20ServiceDiscovery:
		x.sd = iso20.ServiceDiscoveryResType{Header: hd, ResponseCode: code, EnergyTransferServiceList: iso20ACServices}
		if a.dc {
			x.sd.EnergyTransferServiceList = iso20DCServices
		}
		x.doc.ServiceDiscoveryRes = &x.sd
	case k20ServiceDetail:
		x.detail = iso20.ServiceDetailResType{Header: hd, ResponseCode: code, ServiceID: iso20ServiceAC, ServiceParameterList: iso20ACParameter}
		if a.dc {
			x.detail.ServiceID, x.detail.ServiceParameterList = iso20ServiceDC, iso20DCParameter
		}
		if a.req.ServiceDetailReq != nil {
			x.detail.ServiceID = a.req.ServiceDetailReq.ServiceID
		}
		x.doc.ServiceDetailRes = &x.detail
	case k20ServiceSelection:
		x.sel = iso20.ServiceSelectionResType{Header: hd, ResponseCode: code}
		x.doc.ServiceSelectionRes = &x.sel
	case k20ScheduleExchange:
		x.se = iso20.ScheduleExchangeResType{Header: hd, ResponseCode: code, EVSEProcessing: iso20.ProcessingFinished, Dynamic_SEResControlMode: iso20Dynamic}
		if a.schedMode && !failed {
			// One tuple: the charger's power limit for 24 h from now, no price.
			p := maxW
			if a.dc {
				p = a.cfg.Limits.MaxPowerW
			}
			x.entry[0] = iso20.PowerScheduleEntryType{Duration: iso20ScheduleS, Power: iso20Rational(p)}
			x.tuple[0] = iso20.ScheduleTupleType{ScheduleTupleID: iso20TupleID, ChargingSchedule: iso20.ChargingScheduleType{
				PowerSchedule: iso20.PowerScheduleType{TimeAnchor: hd.TimeStamp, PowerScheduleEntries: iso20.PowerScheduleEntryListType{PowerScheduleEntry: x.entry[:]}}}}
			x.sse = iso20.Scheduled_SEResControlModeType{ScheduleTuple: x.tuple[:]}
			x.se.Dynamic_SEResControlMode, x.se.Scheduled_SEResControlMode = nil, &x.sse
		}
		x.doc.ScheduleExchangeRes = &x.se
	case k20PowerDelivery:
		x.pd = iso20.PowerDeliveryResType{Header: hd, ResponseCode: code}
		x.doc.PowerDeliveryRes = &x.pd
	case k20SessionStop:
		x.ss = iso20.SessionStopResType{Header: hd, ResponseCode: code}
		x.doc.SessionStopRes = &x.ss
	case k20CableCheck, k20PreCharge, k20WeldingDetection:
		return dst, "", fmt.Errorf("no answer for %s in an AC session", a.kind)
	case k20ChargeParameterDiscovery:
		common = false
		x.cpdm = ac.AC_CPDResEnergyTransferModeType{EVSEMaximumChargePower: iso20Rational(maxW),
			EVSEMinimumChargePower: iso20Rational(minW), EVSENominalFrequency: iso20Rational(50)}
		x.cpd = ac.AC_ChargeParameterDiscoveryResType{Header: hd, ResponseCode: code, AC_CPDResEnergyTransferMode: &x.cpdm}
		x.acDoc.AC_ChargeParameterDiscoveryRes = &x.cpd
	case k20ChargeLoop:
		common = false
		x.cl = ac.AC_ChargeLoopResType{Header: hd, ResponseCode: code}
		if a.scheduled {
			// The schedule's power (none when failed).
			x.target = iso20Rational(maxW)
			x.sched = ac.Scheduled_AC_CLResControlModeType{EVSETargetActivePower: &x.target}
			x.cl.Scheduled_AC_CLResControlMode = &x.sched
		} else {
			x.dyn = ac.Dynamic_AC_CLResControlModeType{EVSETargetActivePower: iso20Rational(maxW)}
			x.cl.Dynamic_AC_CLResControlMode = &x.dyn
		}
		if failed || d != nil && d.Outcome == Shutdown {
			// The car stops: PowerDelivery(Stop), then SessionStop.
			x.status = iso20.EVSEStatusType{EVSENotification: iso20.EvseNotificationTerminate}
			x.cl.EVSEStatus = &x.status
		}
		x.acDoc.AC_ChargeLoopRes = &x.cl
	default:
		return dst, "", fmt.Errorf("no answer for %s", a.kind)
	}
	var out []byte
	var err error
	if common {
		out, err = iso20.Append(dst, &x.doc)
	} else {
		out, err = ac.Append(dst, &x.acDoc)
	}
	return out, code.String(), err
}

func (k iso20Kind) String() string { return fmt.Sprintf("iso20Kind(%d)", uint8(k)) }

// buildDC encodes the answer to a request of the DC schema: the charger's
// limits (Config.Limits) and the output the policy decided; failed
// answers no power.
func (a *iso20Adapter) buildDC(dst []byte, hd iso20.MessageHeaderType, code iso20.ResponseCodeType, failed bool, d *Decision) ([]byte, string, error) {
	x := &a.ans
	l := a.cfg.Limits
	var out Decision
	if d != nil && !failed {
		out = *d
	}
	if failed {
		l = Limits{}
	}
	switch a.kind {
	case k20ChargeParameterDiscovery:
		x.dcpdm = dc.DC_CPDResEnergyTransferModeType{EVSEMaximumChargePower: iso20Rational(l.MaxPowerW), EVSEMinimumChargePower: iso20Rational(0),
			EVSEMaximumChargeCurrent: iso20Rational(l.MaxCurrentA), EVSEMinimumChargeCurrent: iso20Rational(l.MinCurrentA),
			EVSEMaximumVoltage: iso20Rational(l.MaxVoltageV), EVSEMinimumVoltage: iso20Rational(l.MinVoltageV)}
		x.dcpd = dc.DC_ChargeParameterDiscoveryResType{Header: hd, ResponseCode: code, DC_CPDResEnergyTransferMode: &x.dcpdm}
		x.dcDoc.DC_ChargeParameterDiscoveryRes = &x.dcpd
	case k20CableCheck:
		x.cable = dc.DC_CableCheckResType{Header: hd, ResponseCode: code, EVSEProcessing: iso20.ProcessingFinished}
		if !failed && out.Outcome == Ongoing {
			x.cable.EVSEProcessing = iso20.ProcessingOngoing
		}
		x.dcDoc.DC_CableCheckRes = &x.cable
	case k20PreCharge:
		x.pre = dc.DC_PreChargeResType{Header: hd, ResponseCode: code, EVSEPresentVoltage: iso20Rational(out.PresentVoltageV)}
		x.dcDoc.DC_PreChargeRes = &x.pre
	case k20ChargeLoop:
		x.dcl = dc.DC_ChargeLoopResType{Header: hd, ResponseCode: code, EVSEPresentCurrent: iso20Rational(out.PresentCurrentA),
			EVSEPresentVoltage: iso20Rational(out.PresentVoltageV), EVSECurrentLimitAchieved: out.CurrentLimitAchieved}
		if a.scheduled {
			// The charger's limits, as in dynamic mode (none when failed).
			x.dclim = [4]iso20.RationalNumberType{iso20Rational(l.MaxPowerW), iso20Rational(0), iso20Rational(l.MaxCurrentA), iso20Rational(l.MaxVoltageV)}
			x.dcsch = dc.Scheduled_DC_CLResControlModeType{EVSEMaximumChargePower: &x.dclim[0], EVSEMinimumChargePower: &x.dclim[1],
				EVSEMaximumChargeCurrent: &x.dclim[2], EVSEMaximumVoltage: &x.dclim[3]}
			x.dcl.Scheduled_DC_CLResControlMode = &x.dcsch
		} else {
			x.dcdyn = dc.Dynamic_DC_CLResControlModeType{EVSEMaximumChargePower: iso20Rational(l.MaxPowerW), EVSEMinimumChargePower: iso20Rational(0),
				EVSEMaximumChargeCurrent: iso20Rational(l.MaxCurrentA), EVSEMaximumVoltage: iso20Rational(l.MaxVoltageV)}
			x.dcl.Dynamic_DC_CLResControlMode = &x.dcdyn
		}
		if failed || d != nil && d.Outcome == Shutdown {
			// The car stops: PowerDelivery(Stop), then SessionStop.
			x.status = iso20.EVSEStatusType{EVSENotification: iso20.EvseNotificationTerminate}
			x.dcl.EVSEStatus = &x.status
		}
		x.dcDoc.DC_ChargeLoopRes = &x.dcl
	case k20WeldingDetection:
		x.weld = dc.DC_WeldingDetectionResType{Header: hd, ResponseCode: code, EVSEPresentVoltage: iso20Rational(out.PresentVoltageV)}
		x.dcDoc.DC_WeldingDetectionRes = &x.weld
	}
	b, err := dc.Append(dst, &x.dcDoc)
	return b, code.String(), err
}

// iso20Rational is v as ISO-20's RationalNumber.
func iso20Rational(v float64) iso20.RationalNumberType {
	val, exp := physical(v)
	return iso20.RationalNumberType{Value: val, Exponent: exp}
}

func iso20Value(r iso20.RationalNumberType) float64 { return scaled(int(r.Value), int(r.Exponent)) }

func iso20Opt(r *iso20.RationalNumberType) opt { return optOf(r, iso20Value) }

// iso20CPDValues are what an AC_ChargeParameterDiscoveryReq tells: the
// car's maximum charge power.
func iso20CPDValues(m *ac.AC_CPDReqEnergyTransferModeType) record.Values {
	b := &valueBlock{maxP: iso20Value(m.EVMaximumChargePower)}
	return record.Values{MaxPowerW: &b.maxP}
}

// iso20GoalValues are what a dynamic ScheduleExchangeReq tells: the
// energy the car asks for and its SoC goals.
func iso20GoalValues(d *iso20.Dynamic_SEReqControlModeType) record.Values {
	b := &valueBlock{request: iso20Value(d.EVTargetEnergyRequest)}
	v := record.Values{EnergyRequestWh: &b.request}
	v.MinimumSOC = b.percent(&b.minSoC, d.MinimumSOC)
	v.TargetSOC = b.percent(&b.targetSoC, d.TargetSOC)
	return v
}

// iso20ScheduledGoalValues are what a scheduled ScheduleExchangeReq
// tells: the energy the car asks for, if it says.
func iso20ScheduledGoalValues(s *iso20.Scheduled_SEReqControlModeType) record.Values {
	b := &valueBlock{}
	return record.Values{EnergyRequestWh: iso20Opt(s.EVTargetEnergyRequest).into(&b.request)}
}

// ISO20LoopValues returns what an ISO 15118-20 AC_ChargeLoopReq tells,
// the exponents applied: its DisplayParameters (Values.Display says which
// it carried) and the energy it asks for and its maximum power (in
// scheduled mode if it sends them). The session publishes them with every
// loop; replay reads captures with it.
func ISO20LoopValues(l *ac.AC_ChargeLoopReqType) record.Values {
	b := &valueBlock{}
	v := record.Values{Display: record.DisplayLoop}
	if dyn := l.Dynamic_AC_CLReqControlMode; dyn != nil {
		b.request, b.maxP = iso20Value(dyn.EVTargetEnergyRequest), iso20Value(dyn.EVMaximumChargePower)
		v.EnergyRequestWh, v.MaxPowerW = &b.request, &b.maxP
	}
	if s := l.Scheduled_AC_CLReqControlMode; s != nil {
		v.Display |= record.DisplayScheduled
		v.EnergyRequestWh = iso20Opt(s.EVTargetEnergyRequest).into(&b.request)
		v.MaxPowerW = iso20Opt(s.EVMaximumChargePower).into(&b.maxP)
	}
	iso20Display(b, &v, l.DisplayParameters)
	return v
}

// iso20DCCPDValues are what a DC_ChargeParameterDiscoveryReq tells: the
// car's limits and, if it sends one, its target SoC.
func iso20DCCPDValues(m *dc.DC_CPDReqEnergyTransferModeType) record.Values {
	b := &valueBlock{maxP: iso20Value(m.EVMaximumChargePower), maxI: iso20Value(m.EVMaximumChargeCurrent), maxV: iso20Value(m.EVMaximumVoltage)}
	v := record.Values{MaxPowerW: &b.maxP, MaxCurrentA: &b.maxI, MaxVoltageV: &b.maxV}
	v.TargetSOC = b.percent(&b.targetSoC, m.TargetSOC)
	return v
}

// iso20DCTargets are the output a DC_ChargeLoopReq asks for: in scheduled
// mode its targets; in dynamic mode the charger regulates, and the car's
// present voltage at the most current its limits allow is the target.
func iso20DCTargets(l *dc.DC_ChargeLoopReqType) (v, i float64) {
	if s := l.Scheduled_DC_CLReqControlMode; s != nil {
		return iso20Value(s.EVTargetVoltage), iso20Value(s.EVTargetCurrent)
	}
	v = iso20Value(l.EVPresentVoltage)
	dyn := l.Dynamic_DC_CLReqControlMode
	if dyn == nil {
		return v, 0
	}
	i = iso20Value(dyn.EVMaximumChargeCurrent)
	if p := iso20Value(dyn.EVMaximumChargePower); v > 0 && p/v < i {
		i = p / v
	}
	return v, max(i, 0)
}

// ISO20DCLoopValues returns what an ISO 15118-20 DC_ChargeLoopReq tells,
// the exponents applied: its DisplayParameters (Values.Display says which
// it carried) and, in dynamic mode, the energy it asks for and its
// limits; in scheduled mode its targets and whichever of those it sends.
func ISO20DCLoopValues(l *dc.DC_ChargeLoopReqType) record.Values {
	b := &valueBlock{}
	v := record.Values{Display: record.DisplayLoop}
	if dyn := l.Dynamic_DC_CLReqControlMode; dyn != nil {
		b.request, b.maxP = iso20Value(dyn.EVTargetEnergyRequest), iso20Value(dyn.EVMaximumChargePower)
		b.maxI, b.maxV = iso20Value(dyn.EVMaximumChargeCurrent), iso20Value(dyn.EVMaximumVoltage)
		v.EnergyRequestWh, v.MaxPowerW, v.MaxCurrentA, v.MaxVoltageV = &b.request, &b.maxP, &b.maxI, &b.maxV
	}
	if s := l.Scheduled_DC_CLReqControlMode; s != nil {
		v.Display |= record.DisplayScheduled
		b.targetV, b.targetI = iso20Value(s.EVTargetVoltage), iso20Value(s.EVTargetCurrent)
		v.TargetVoltageV, v.TargetCurrentA = &b.targetV, &b.targetI
		v.EnergyRequestWh = iso20Opt(s.EVTargetEnergyRequest).into(&b.request)
		v.MaxPowerW = iso20Opt(s.EVMaximumChargePower).into(&b.maxP)
		v.MaxCurrentA = iso20Opt(s.EVMaximumChargeCurrent).into(&b.maxI)
		v.MaxVoltageV = iso20Opt(s.EVMaximumVoltage).into(&b.maxV)
	}
	iso20Display(b, &v, l.DisplayParameters)
	return v
}

// iso20Display adds a loop's DisplayParameters to v, in b's slots.
func iso20Display(b *valueBlock, v *record.Values, dp *iso20.DisplayParametersType) {
	if dp == nil {
		return
	}
	set := func(f record.DisplaySet, present bool) {
		if present {
			v.Display |= f
		}
	}
	set(record.DisplayPresentSOC, dp.PresentSOC != nil)
	set(record.DisplayMinimumSOC, dp.MinimumSOC != nil)
	set(record.DisplayTargetSOC, dp.TargetSOC != nil)
	set(record.DisplayMaximumSOC, dp.MaximumSOC != nil)
	set(record.DisplayRemainingTimeToMinimumSOC, dp.RemainingTimeToMinimumSOC != nil)
	set(record.DisplayRemainingTimeToTargetSOC, dp.RemainingTimeToTargetSOC != nil)
	set(record.DisplayRemainingTimeToMaximumSOC, dp.RemainingTimeToMaximumSOC != nil)
	set(record.DisplayChargingComplete, dp.ChargingComplete != nil)
	set(record.DisplayBatteryEnergyCapacity, dp.BatteryEnergyCapacity != nil)
	set(record.DisplayInletHot, dp.InletHot != nil)
	v.SoC = b.percent(&b.soc, dp.PresentSOC)
	v.MinimumSOC = b.percent(&b.minSoC, dp.MinimumSOC)
	v.TargetSOC = b.percent(&b.targetSoC, dp.TargetSOC)
	v.MaximumSOC = b.percent(&b.maxSoC, dp.MaximumSOC)
	v.RemainingToMinimumS = b.seconds(&b.toMin, dp.RemainingTimeToMinimumSOC)
	v.RemainingToTargetS = b.seconds(&b.toTarget, dp.RemainingTimeToTargetSOC)
	v.RemainingToMaximumS = b.seconds(&b.toMax, dp.RemainingTimeToMaximumSOC)
	if dp.ChargingComplete != nil {
		b.complete, v.ChargingComplete = *dp.ChargingComplete, &b.complete
	}
	v.EnergyCapacityWh = iso20Opt(dp.BatteryEnergyCapacity).into(&b.capacity)
}
