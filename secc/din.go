package secc

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/v2g/din"
	"github.com/ccslink/ccslink/v2g/message"
)

// dinState is where a DIN SPEC 70121 session stands, named after the
// request the charger waits for next.
type dinState uint8

const (
	dinWaitSessionSetup dinState = iota
	dinWaitServiceDiscovery
	dinWaitServicePaymentSelection
	dinWaitContractAuthentication
	dinWaitChargeParameterDiscovery
	dinWaitCableCheck
	dinWaitPreCharge
	dinWaitPowerDelivery
	dinWaitCurrentDemand
	dinWaitWeldingDetection
	dinEnded
	dinNumStates
)

var dinStateNames = [...]string{"WaitForSessionSetupReq", "WaitForServiceDiscoveryReq", "WaitForServicePaymentSelectionReq",
	"WaitForContractAuthenticationReq", "WaitForChargeParameterDiscoveryReq", "WaitForCableCheckReq", "WaitForPreChargeReq",
	"WaitForPowerDeliveryReq", "WaitForCurrentDemandReq", "WaitForWeldingDetectionReq", "Ended"}

func (s dinState) String() string { return dinStateNames[s] }

// dinAllowed is DIN 70121's sequence: the requests each state accepts. A
// state also takes the request that led to it again (Ongoing loops, a car
// repeating itself), and SessionStopReq ends any session after SessionSetup.
var dinAllowed = func() (t [dinNumStates][din.NumMessageKinds]bool) {
	allow := func(s dinState, kinds ...din.MessageKind) {
		for _, k := range kinds {
			t[s][k] = true
		}
	}
	allow(dinWaitSessionSetup, din.KindSessionSetupReq)
	allow(dinWaitServiceDiscovery, din.KindServiceDiscoveryReq, din.KindSessionSetupReq)
	allow(dinWaitServicePaymentSelection, din.KindServicePaymentSelectionReq, din.KindServiceDiscoveryReq)
	// External payment: some cars skip ContractAuthentication.
	allow(dinWaitContractAuthentication, din.KindContractAuthenticationReq, din.KindChargeParameterDiscoveryReq, din.KindServicePaymentSelectionReq)
	allow(dinWaitChargeParameterDiscovery, din.KindChargeParameterDiscoveryReq, din.KindContractAuthenticationReq)
	// After ChargeParameterDiscovery a plug-in hybrid may send PowerDeliveryReq(stop).
	allow(dinWaitCableCheck, din.KindCableCheckReq, din.KindChargeParameterDiscoveryReq, din.KindPowerDeliveryReq)
	allow(dinWaitPreCharge, din.KindPreChargeReq, din.KindCableCheckReq)
	allow(dinWaitPowerDelivery, din.KindPowerDeliveryReq, din.KindPreChargeReq)
	allow(dinWaitCurrentDemand, din.KindCurrentDemandReq, din.KindPowerDeliveryReq)
	allow(dinWaitWeldingDetection, din.KindWeldingDetectionReq, din.KindPowerDeliveryReq)
	for s := dinWaitServiceDiscovery; s < dinEnded; s++ {
		allow(s, din.KindSessionStopReq)
	}
	return t
}()

// dinMachine is the charger's DIN 70121 session.
type dinMachine struct {
	cfg     Config
	ids     *sessionIDs
	emit    func(record.Event)
	st      dinState
	last    time.Time
	cpd     int // ChargeParameterDiscoveryReq seen
	ongoing int // Ongoing answers after EVSE_Shutdown
	// harvested: the soc policy has the values and is ending the DC attempt.
	harvested bool
	ended     bool
	voltage   float64 // the emulated output voltage (dc policy)
	dc        dcTimes // the dc policy's cable check and pre-charge
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec din.Decoder
	req *din.Document
	res din.Document
}

func newDIN(cfg Config, ids *sessionIDs, now time.Time, emit func(record.Event)) *dinMachine {
	return &dinMachine{cfg: cfg, ids: ids, emit: emit, last: now}
}

func (m *dinMachine) deadline() time.Time { return m.last.Add(m.cfg.SequenceTimeout) }
func (m *dinMachine) done() bool          { return m.ended }

func (m *dinMachine) handle(now time.Time, payload []byte, dst []byte) ([]byte, Step, error) {
	m.last = now
	var err error
	m.req, _, err = m.dec.Decode(payload)
	msg := m.req.V2G_Message
	kind := din.KindNone
	if msg != nil {
		kind = msg.Body.Kind()
	}
	step := Step{Request: kind.Message()}
	if err != nil || msg == nil {
		rerr := &RequestError{Hex: hexExcerpt(payload), Len: len(payload), Err: fmt.Errorf("%w: %w", ErrUndecodable, err)}
		if msg == nil {
			rerr.Err = fmt.Errorf("%w: not a DIN V2G_Message", ErrUndecodable)
		}
		if !isDINRequest(kind) {
			m.ended = true
			return dst, step, rerr
		}
		rerr.Message = step.Request
		return m.fail(dst, &step, kind, din.ResponseCodeFAILED, rerr)
	}
	if !isDINRequest(kind) {
		m.ended = true
		return dst, step, &RequestError{Message: step.Request, Hex: hexExcerpt(payload), Len: len(payload), Err: ErrNotRequest}
	}
	if kind != din.KindSessionSetupReq && !bytes.Equal(msg.Header.SessionID, m.ids.id[:]) {
		return m.fail(dst, &step, kind, din.ResponseCodeFAILED_UnknownSession,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: SessionID %x, the session's is %x", ErrUnknownSession, []byte(msg.Header.SessionID), m.ids.id[:])})
	}
	if m.harvested && dinMovesOn(kind, &msg.Body) {
		m.values(now, step.Request, dinMovingValues(&msg.Body))
		body := m.refuse(kind)
		return m.encode(dst, &step, body, nil)
	}
	if !dinAllowed[m.st][kind] {
		return m.fail(dst, &step, kind, din.ResponseCodeFAILED_SequenceError,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: %s while %s", ErrSequence, kind, m.st)})
	}
	body := m.answer(now, kind, &msg.Body)
	return m.encode(dst, &step, body, nil)
}

// dinMovesOn reports a request towards charging, which the soc policy
// answers with FAILED once it has the car's values.
func dinMovesOn(k din.MessageKind, b *din.BodyType) bool {
	switch k {
	case din.KindCableCheckReq, din.KindPreChargeReq, din.KindCurrentDemandReq, din.KindWeldingDetectionReq:
		return true
	case din.KindPowerDeliveryReq:
		return b.PowerDeliveryReq.ReadyToChargeState
	}
	return false
}

// dinMovingValues are the SoC a car moving on still reports.
func dinMovingValues(b *din.BodyType) record.Values {
	switch {
	case b.CableCheckReq != nil:
		return dinStatusValues(&b.CableCheckReq.DC_EVStatus)
	case b.PreChargeReq != nil:
		return dinStatusValues(&b.PreChargeReq.DC_EVStatus)
	case b.CurrentDemandReq != nil:
		return dinStatusValues(&b.CurrentDemandReq.DC_EVStatus)
	case b.WeldingDetectionReq != nil:
		return dinStatusValues(&b.WeldingDetectionReq.DC_EVStatus)
	}
	return record.Values{}
}

func isDINRequest(k din.MessageKind) bool {
	switch k {
	case din.KindSessionSetupReq, din.KindServiceDiscoveryReq, din.KindServiceDetailReq, din.KindServicePaymentSelectionReq,
		din.KindPaymentDetailsReq, din.KindContractAuthenticationReq, din.KindChargeParameterDiscoveryReq,
		din.KindPowerDeliveryReq, din.KindChargingStatusReq, din.KindMeteringReceiptReq, din.KindCertificateUpdateReq,
		din.KindCertificateInstallationReq, din.KindCableCheckReq, din.KindPreChargeReq, din.KindCurrentDemandReq,
		din.KindWeldingDetectionReq, din.KindSessionStopReq:
		return true
	}
	return false
}

// fail answers kind with code and ends the session: after a FAILED answer
// the car closes the connection.
func (m *dinMachine) fail(dst []byte, step *Step, kind din.MessageKind, code din.ResponseCodeType, err error) ([]byte, Step, error) {
	m.ended = true
	m.st = dinEnded
	body := dinFailed(kind, code)
	if body == nil {
		return dst, *step, err
	}
	return m.encode(dst, step, body, err)
}

func (m *dinMachine) encode(dst []byte, step *Step, body *din.BodyType, err error) ([]byte, Step, error) {
	step.Code = dinCode(body).String()
	m.res = din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: m.ids.id[:]}, Body: *body}}
	out, encErr := din.Append(dst, &m.res)
	if encErr != nil {
		m.ended = true
		return dst, *step, &RequestError{Message: step.Request, Err: fmt.Errorf("encoding the answer: %w", encErr)}
	}
	return out, *step, err
}

// answer decides the charger's answer to an allowed request and moves the state.
func (m *dinMachine) answer(now time.Time, kind din.MessageKind, b *din.BodyType) *din.BodyType {
	ok := din.ResponseCodeOK
	switch kind {
	case din.KindSessionSetupReq:
		code := din.ResponseCodeOK_NewSessionEstablished
		sid := m.reqSessionID()
		if m.ids.id != ([8]byte{}) && bytes.Equal(sid, m.ids.id[:]) {
			code = din.ResponseCodeOK_OldSessionJoined
		} else {
			m.ids.id = m.cfg.NewSessionID()
		}
		m.emit(record.Event{Kind: record.KindSessionSetup, At: now, EVCCID: append([]byte(nil), b.SessionSetupReq.EVCCID...)})
		m.st = dinWaitServiceDiscovery
		t := now.Unix()
		return &din.BodyType{SessionSetupRes: &din.SessionSetupResType{ResponseCode: code, EVSEID: dinEVSEID(m.cfg.EVSEID), DateTimeNow: &t}}
	case din.KindServiceDiscoveryReq:
		m.st = dinWaitServicePaymentSelection
		return &din.BodyType{ServiceDiscoveryRes: &din.ServiceDiscoveryResType{
			ResponseCode:   ok,
			PaymentOptions: din.PaymentOptionsType{PaymentOption: []din.PaymentOptionType{din.PaymentOptionExternalPayment}},
			ChargeService: din.ServiceChargeType{
				ServiceTag:         din.ServiceTagType{ServiceID: 1, ServiceCategory: din.ServiceCategoryEVCharging},
				FreeService:        true,
				EnergyTransferType: din.EVSESupportedEnergyTransferDC_extended,
			},
		}}
	case din.KindServicePaymentSelectionReq:
		m.st = dinWaitContractAuthentication
		return &din.BodyType{ServicePaymentSelectionRes: &din.ServicePaymentSelectionResType{ResponseCode: ok}}
	case din.KindContractAuthenticationReq:
		m.st = dinWaitChargeParameterDiscovery
		return &din.BodyType{ContractAuthenticationRes: &din.ContractAuthenticationResType{ResponseCode: ok, EVSEProcessing: din.EVSEProcessingFinished}}
	case din.KindChargeParameterDiscoveryReq:
		return m.chargeParameterDiscovery(now, b.ChargeParameterDiscoveryReq)
	case din.KindCableCheckReq:
		m.values(now, message.CableCheckReq, dinStatusValues(&b.CableCheckReq.DC_EVStatus))
		if m.cfg.Policy != PolicyDC {
			return m.refuse(kind)
		}
		proc := din.EVSEProcessingOngoing
		if m.dc.cableDone(&m.cfg, now) {
			proc = din.EVSEProcessingFinished
			m.st = dinWaitPreCharge
		}
		return &din.BodyType{CableCheckRes: &din.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: m.status(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid), EVSEProcessing: proc}}
	case din.KindPreChargeReq:
		r := b.PreChargeReq
		v := dinStatusValues(&r.DC_EVStatus)
		v.TargetVoltageV = ptr(dinValue(r.EVTargetVoltage))
		m.values(now, message.PreChargeReq, v)
		if m.cfg.Policy != PolicyDC {
			return m.refuse(kind)
		}
		m.voltage = m.dc.preCharge(&m.cfg, now, m.voltage, *v.TargetVoltageV)
		m.st = dinWaitPowerDelivery
		return &din.BodyType{PreChargeRes: &din.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: m.status(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid), EVSEPresentVoltage: dinPV(m.voltage, din.UnitSymbolV)}}
	case din.KindPowerDeliveryReq:
		r := b.PowerDeliveryReq
		if r.ReadyToChargeState && m.cfg.Policy == PolicyDC && m.st != dinWaitCableCheck {
			m.st = dinWaitCurrentDemand
		} else if r.ReadyToChargeState {
			return m.refuse(kind)
		} else {
			// Stop: after CurrentDemand comes WeldingDetection; a car stopping
			// right after ChargeParameterDiscovery goes to SessionStop.
			m.st = dinWaitWeldingDetection
		}
		st := m.status(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid)
		return &din.BodyType{PowerDeliveryRes: &din.PowerDeliveryResType{ResponseCode: ok, DC_EVSEStatus: &st}}
	case din.KindCurrentDemandReq:
		r := b.CurrentDemandReq
		v := dinStatusValues(&r.DC_EVStatus)
		v.TargetVoltageV, v.TargetCurrentA = ptr(dinValue(r.EVTargetVoltage)), ptr(dinValue(r.EVTargetCurrent))
		m.values(now, message.CurrentDemandReq, v)
		if m.cfg.Policy != PolicyDC {
			return m.refuse(kind)
		}
		m.voltage = *v.TargetVoltageV
		cur := math.Min(*v.TargetCurrentA, m.cfg.Limits.MaxCurrentA)
		return &din.BodyType{CurrentDemandRes: &din.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            m.status(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid),
			EVSEPresentVoltage:       dinPV(m.voltage, din.UnitSymbolV),
			EVSEPresentCurrent:       dinPV(cur, din.UnitSymbolA),
			EVSECurrentLimitAchieved: cur < *v.TargetCurrentA,
			EVSEMaximumVoltageLimit:  ptr(dinPV(m.cfg.Limits.MaxVoltageV, din.UnitSymbolV)),
			EVSEMaximumCurrentLimit:  ptr(dinPV(m.cfg.Limits.MaxCurrentA, din.UnitSymbolA)),
			EVSEMaximumPowerLimit:    ptr(dinPV(m.cfg.Limits.MaxPowerW, din.UnitSymbolW)),
		}}
	case din.KindWeldingDetectionReq:
		m.values(now, message.WeldingDetectionReq, dinStatusValues(&b.WeldingDetectionReq.DC_EVStatus))
		m.voltage = 0
		return &din.BodyType{WeldingDetectionRes: &din.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: m.status(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid), EVSEPresentVoltage: dinPV(0, din.UnitSymbolV)}}
	case din.KindSessionStopReq:
		m.st, m.ended = dinEnded, true
		return &din.BodyType{SessionStopRes: &din.SessionStopResType{ResponseCode: ok}}
	}
	return m.refuse(kind)
}

// chargeParameterDiscovery is where the soc policy harvests the car's values.
func (m *dinMachine) chargeParameterDiscovery(now time.Time, r *din.ChargeParameterDiscoveryReqType) *din.BodyType {
	m.cpd++
	if p := r.DC_EVChargeParameter; p != nil {
		m.values(now, message.ChargeParameterDiscoveryReq, dinCPDValues(p))
	}
	res := &din.ChargeParameterDiscoveryResType{
		ResponseCode:           din.ResponseCodeOK,
		EVSEProcessing:         din.EVSEProcessingFinished,
		SAScheduleList:         dinSchedule(m.cfg.Limits.MaxPowerW),
		DC_EVSEChargeParameter: m.chargeParameter(din.DC_EVSEStatusCodeEVSE_Ready),
	}
	switch {
	case r.DC_EVChargeParameter == nil:
		// DIN is DC only: an AC request is a wrong parameter.
		res.ResponseCode = din.ResponseCodeFAILED_WrongEnergyTransferType
		m.st, m.ended = dinEnded, true
	case m.cfg.Policy == PolicyDC:
		m.st = dinWaitCableCheck
	case m.cpd == 1:
		// The values are out (published above); keep the car waiting.
		res.EVSEProcessing = din.EVSEProcessingOngoing
		m.harvested = true
		m.st = dinWaitCableCheck
	case m.ongoing < m.cfg.MaxOngoing:
		// End the DC attempt: the car answers with SessionStopReq.
		m.ongoing++
		res.EVSEProcessing = din.EVSEProcessingOngoing
		res.DC_EVSEChargeParameter = m.chargeParameter(din.DC_EVSEStatusCodeEVSE_Shutdown)
	default:
		// A car that ignores EVSE_Shutdown.
		res.ResponseCode = din.ResponseCodeFAILED
		res.DC_EVSEChargeParameter = m.chargeParameter(din.DC_EVSEStatusCodeEVSE_Shutdown)
		m.st, m.ended = dinEnded, true
	}
	return &din.BodyType{ChargeParameterDiscoveryRes: res}
}

// refuse answers a request the policy does not serve (a car that moves on
// towards charging after the soc policy ended the attempt) with FAILED.
func (m *dinMachine) refuse(kind din.MessageKind) *din.BodyType {
	m.st, m.ended = dinEnded, true
	return dinFailed(kind, din.ResponseCodeFAILED)
}

func (m *dinMachine) values(now time.Time, from message.Kind, v record.Values) {
	m.emit(record.Event{Kind: record.KindValues, At: now, Message: from, Values: v})
}

func (m *dinMachine) reqSessionID() []byte { return m.req.V2G_Message.Header.SessionID }

func (m *dinMachine) status(code din.DC_EVSEStatusCodeType, iso din.IsolationLevelType) din.DC_EVSEStatusType {
	return din.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: code, EVSENotification: din.EVSENotificationNone}
}

func (m *dinMachine) chargeParameter(code din.DC_EVSEStatusCodeType) *din.DC_EVSEChargeParameterType {
	l := m.cfg.Limits
	return &din.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           m.status(code, din.IsolationLevelInvalid),
		EVSEMaximumCurrentLimit: dinPV(l.MaxCurrentA, din.UnitSymbolA),
		EVSEMaximumPowerLimit:   ptr(dinPV(l.MaxPowerW, din.UnitSymbolW)),
		EVSEMaximumVoltageLimit: dinPV(l.MaxVoltageV, din.UnitSymbolV),
		EVSEMinimumCurrentLimit: dinPV(l.MinCurrentA, din.UnitSymbolA),
		EVSEMinimumVoltageLimit: dinPV(l.MinVoltageV, din.UnitSymbolV),
		EVSEPeakCurrentRipple:   dinPV(l.PeakCurrentRippleA, din.UnitSymbolA),
	}
}

// dinSchedule is one PMax schedule over a day: BMW cars abort without it.
func dinSchedule(maxW float64) *din.SAScheduleListType {
	d := uint32(86400)
	pmax := int16(math.Min(maxW/1000, math.MaxInt16)) // DIN's PMax is in kW
	return &din.SAScheduleListType{SAScheduleTuple: []din.SAScheduleTupleType{{
		SAScheduleTupleID: 1,
		PMaxSchedule: din.PMaxScheduleType{PMaxScheduleID: 1, PMaxScheduleEntry: []din.PMaxScheduleEntryType{{
			RelativeTimeInterval: &din.RelativeTimeIntervalType{Start: 0, Duration: &d}, PMax: pmax,
		}}},
	}}}
}

// dinEVSEID is the charger's ID as DIN's bytes: hex when it reads as hex, else its characters.
func dinEVSEID(s string) []byte {
	if b, err := hex.DecodeString(s); err == nil && len(b) > 0 && len(b) <= 32 {
		return b
	}
	if len(s) > 32 {
		s = s[:32]
	}
	return []byte(s)
}

// DINValues returns what a DIN ChargeParameterDiscoveryReq tells of the
// car, the multipliers applied: its DC values, or the energy an AC request
// asks for. The session records the DC ones; replay reads captures with it.
func DINValues(r *din.ChargeParameterDiscoveryReqType) record.Values {
	if p := r.DC_EVChargeParameter; p != nil {
		return dinCPDValues(p)
	}
	if p := r.AC_EVChargeParameter; p != nil {
		return record.Values{EnergyRequestWh: ptr(dinValue(p.EAmount))}
	}
	return record.Values{}
}

func dinCPDValues(p *din.DC_EVChargeParameterType) record.Values {
	v := dinStatusValues(&p.DC_EVStatus)
	v.MaxVoltageV = ptr(dinValue(p.EVMaximumVoltageLimit))
	v.MaxCurrentA = ptr(dinValue(p.EVMaximumCurrentLimit))
	if p.EVMaximumPowerLimit != nil {
		v.MaxPowerW = ptr(dinValue(*p.EVMaximumPowerLimit))
	}
	if p.EVEnergyCapacity != nil {
		v.EnergyCapacityWh = ptr(dinValue(*p.EVEnergyCapacity))
	}
	if p.EVEnergyRequest != nil {
		v.EnergyRequestWh = ptr(dinValue(*p.EVEnergyRequest))
	}
	if p.FullSOC != nil {
		v.FullSOC = ptr(int(*p.FullSOC))
	}
	if p.BulkSOC != nil {
		v.BulkSOC = ptr(int(*p.BulkSOC))
	}
	return v
}

func dinStatusValues(s *din.DC_EVStatusType) record.Values {
	return record.Values{SoC: ptr(int(s.EVRESSSOC))}
}

// dinValue applies the multiplier: Value x 10^Multiplier.
func dinValue(p din.PhysicalValueType) float64 { return scaled(int(p.Value), int(p.Multiplier)) }

func dinPV(v float64, unit din.UnitSymbolType) din.PhysicalValueType {
	val, mul := physical(v)
	return din.PhysicalValueType{Value: val, Multiplier: mul, Unit: &unit}
}

// dinCode returns the ResponseCode of an answer body.
func dinCode(b *din.BodyType) din.ResponseCodeType {
	switch {
	case b.SessionSetupRes != nil:
		return b.SessionSetupRes.ResponseCode
	case b.ServiceDiscoveryRes != nil:
		return b.ServiceDiscoveryRes.ResponseCode
	case b.ServiceDetailRes != nil:
		return b.ServiceDetailRes.ResponseCode
	case b.ServicePaymentSelectionRes != nil:
		return b.ServicePaymentSelectionRes.ResponseCode
	case b.PaymentDetailsRes != nil:
		return b.PaymentDetailsRes.ResponseCode
	case b.ContractAuthenticationRes != nil:
		return b.ContractAuthenticationRes.ResponseCode
	case b.ChargeParameterDiscoveryRes != nil:
		return b.ChargeParameterDiscoveryRes.ResponseCode
	case b.PowerDeliveryRes != nil:
		return b.PowerDeliveryRes.ResponseCode
	case b.ChargingStatusRes != nil:
		return b.ChargingStatusRes.ResponseCode
	case b.MeteringReceiptRes != nil:
		return b.MeteringReceiptRes.ResponseCode
	case b.CableCheckRes != nil:
		return b.CableCheckRes.ResponseCode
	case b.PreChargeRes != nil:
		return b.PreChargeRes.ResponseCode
	case b.CurrentDemandRes != nil:
		return b.CurrentDemandRes.ResponseCode
	case b.WeldingDetectionRes != nil:
		return b.WeldingDetectionRes.ResponseCode
	case b.SessionStopRes != nil:
		return b.SessionStopRes.ResponseCode
	}
	return din.ResponseCodeFAILED
}

// dinFailed is the answer of kind's request with code and the mandatory
// fields at their most cautious values; nil for a kind the charger never answers.
func dinFailed(kind din.MessageKind, code din.ResponseCodeType) *din.BodyType {
	iso := din.IsolationLevelInvalid
	st := din.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: din.DC_EVSEStatusCodeEVSE_Shutdown}
	zero := func(u din.UnitSymbolType) din.PhysicalValueType { return din.PhysicalValueType{Unit: &u} }
	switch kind {
	case din.KindSessionSetupReq:
		return &din.BodyType{SessionSetupRes: &din.SessionSetupResType{ResponseCode: code, EVSEID: []byte{0}}}
	case din.KindServiceDiscoveryReq:
		return &din.BodyType{ServiceDiscoveryRes: &din.ServiceDiscoveryResType{ResponseCode: code,
			PaymentOptions: din.PaymentOptionsType{PaymentOption: []din.PaymentOptionType{din.PaymentOptionExternalPayment}},
			ChargeService: din.ServiceChargeType{ServiceTag: din.ServiceTagType{ServiceID: 1, ServiceCategory: din.ServiceCategoryEVCharging},
				EnergyTransferType: din.EVSESupportedEnergyTransferDC_extended}}}
	case din.KindServicePaymentSelectionReq:
		return &din.BodyType{ServicePaymentSelectionRes: &din.ServicePaymentSelectionResType{ResponseCode: code}}
	case din.KindContractAuthenticationReq:
		return &din.BodyType{ContractAuthenticationRes: &din.ContractAuthenticationResType{ResponseCode: code, EVSEProcessing: din.EVSEProcessingFinished}}
	case din.KindChargeParameterDiscoveryReq:
		return &din.BodyType{ChargeParameterDiscoveryRes: &din.ChargeParameterDiscoveryResType{ResponseCode: code, EVSEProcessing: din.EVSEProcessingFinished,
			SAScheduleList: dinSchedule(0), DC_EVSEChargeParameter: &din.DC_EVSEChargeParameterType{DC_EVSEStatus: st, EVSEMaximumCurrentLimit: zero(din.UnitSymbolA),
				EVSEMaximumVoltageLimit: zero(din.UnitSymbolV), EVSEMinimumCurrentLimit: zero(din.UnitSymbolA),
				EVSEMinimumVoltageLimit: zero(din.UnitSymbolV), EVSEPeakCurrentRipple: zero(din.UnitSymbolA)}}}
	case din.KindCableCheckReq:
		return &din.BodyType{CableCheckRes: &din.CableCheckResType{ResponseCode: code, DC_EVSEStatus: st, EVSEProcessing: din.EVSEProcessingFinished}}
	case din.KindPreChargeReq:
		return &din.BodyType{PreChargeRes: &din.PreChargeResType{ResponseCode: code, DC_EVSEStatus: st, EVSEPresentVoltage: zero(din.UnitSymbolV)}}
	case din.KindPowerDeliveryReq:
		return &din.BodyType{PowerDeliveryRes: &din.PowerDeliveryResType{ResponseCode: code, DC_EVSEStatus: &st}}
	case din.KindCurrentDemandReq:
		return &din.BodyType{CurrentDemandRes: &din.CurrentDemandResType{ResponseCode: code, DC_EVSEStatus: st,
			EVSEPresentVoltage: zero(din.UnitSymbolV), EVSEPresentCurrent: zero(din.UnitSymbolA)}}
	case din.KindWeldingDetectionReq:
		return &din.BodyType{WeldingDetectionRes: &din.WeldingDetectionResType{ResponseCode: code, DC_EVSEStatus: st, EVSEPresentVoltage: zero(din.UnitSymbolV)}}
	case din.KindSessionStopReq:
		return &din.BodyType{SessionStopRes: &din.SessionStopResType{ResponseCode: code}}
	case din.KindServiceDetailReq:
		return &din.BodyType{ServiceDetailRes: &din.ServiceDetailResType{ResponseCode: code}}
	case din.KindPaymentDetailsReq:
		return &din.BodyType{PaymentDetailsRes: &din.PaymentDetailsResType{ResponseCode: code}}
	case din.KindChargingStatusReq:
		return &din.BodyType{ChargingStatusRes: &din.ChargingStatusResType{ResponseCode: code}}
	case din.KindMeteringReceiptReq:
		return &din.BodyType{MeteringReceiptRes: &din.MeteringReceiptResType{ResponseCode: code}}
	}
	return nil
}
