package secc

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/v2g/iso2"
	"github.com/ccslink/ccslink/v2g/message"
)

// iso2State is where an ISO 15118-2 session stands, named after the
// request the charger waits for next.
type iso2State uint8

const (
	iso2WaitSessionSetup iso2State = iota
	iso2WaitServiceDiscovery
	iso2WaitPaymentServiceSelection
	iso2WaitAuthorization
	iso2WaitChargeParameterDiscovery
	iso2WaitCableCheck
	iso2WaitPreCharge
	iso2WaitPowerDelivery
	iso2WaitChargeLoop // CurrentDemandReq (DC) or ChargingStatusReq (AC)
	iso2WaitWeldingDetection
	iso2Ended
	iso2NumStates
)

var iso2StateNames = [...]string{"WaitForSessionSetupReq", "WaitForServiceDiscoveryReq", "WaitForPaymentServiceSelectionReq",
	"WaitForAuthorizationReq", "WaitForChargeParameterDiscoveryReq", "WaitForCableCheckReq", "WaitForPreChargeReq",
	"WaitForPowerDeliveryReq", "WaitForChargeLoopReq", "WaitForWeldingDetectionReq", "Ended"}

func (s iso2State) String() string { return iso2StateNames[s] }

// iso2Allowed is ISO 15118-2's sequence (AC and DC): the requests each
// state accepts, the request that led to it again, and SessionStopReq
// after SessionSetup.
var iso2Allowed = func() (t [iso2NumStates][iso2.NumMessageKinds]bool) {
	allow := func(s iso2State, kinds ...iso2.MessageKind) {
		for _, k := range kinds {
			t[s][k] = true
		}
	}
	allow(iso2WaitSessionSetup, iso2.KindSessionSetupReq)
	allow(iso2WaitServiceDiscovery, iso2.KindServiceDiscoveryReq, iso2.KindSessionSetupReq)
	allow(iso2WaitPaymentServiceSelection, iso2.KindPaymentServiceSelectionReq, iso2.KindServiceDetailReq, iso2.KindServiceDiscoveryReq)
	allow(iso2WaitAuthorization, iso2.KindAuthorizationReq, iso2.KindPaymentServiceSelectionReq)
	allow(iso2WaitChargeParameterDiscovery, iso2.KindChargeParameterDiscoveryReq, iso2.KindAuthorizationReq)
	allow(iso2WaitCableCheck, iso2.KindCableCheckReq, iso2.KindChargeParameterDiscoveryReq, iso2.KindPowerDeliveryReq)
	allow(iso2WaitPreCharge, iso2.KindPreChargeReq, iso2.KindCableCheckReq)
	allow(iso2WaitPowerDelivery, iso2.KindPowerDeliveryReq, iso2.KindPreChargeReq, iso2.KindChargeParameterDiscoveryReq)
	allow(iso2WaitChargeLoop, iso2.KindCurrentDemandReq, iso2.KindChargingStatusReq, iso2.KindMeteringReceiptReq, iso2.KindPowerDeliveryReq)
	allow(iso2WaitWeldingDetection, iso2.KindWeldingDetectionReq, iso2.KindPowerDeliveryReq)
	for s := iso2WaitServiceDiscovery; s < iso2Ended; s++ {
		allow(s, iso2.KindSessionStopReq)
	}
	return t
}()

// iso2Machine is the charger's ISO 15118-2 session.
type iso2Machine struct {
	cfg       Config
	ids       *sessionIDs
	emit      func(record.Event)
	st        iso2State
	last      time.Time
	ac        bool // the car asked for AC in ChargeParameterDiscoveryReq
	cpd       int
	ongoing   int
	harvested bool
	ended     bool
	voltage   float64
	dc        dcTimes
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec iso2.Decoder
	req *iso2.Document
	res iso2.Document
}

func newISO2(cfg Config, ids *sessionIDs, now time.Time, emit func(record.Event)) *iso2Machine {
	return &iso2Machine{cfg: cfg, ids: ids, emit: emit, last: now}
}

func (m *iso2Machine) deadline() time.Time { return m.last.Add(m.cfg.SequenceTimeout) }
func (m *iso2Machine) done() bool          { return m.ended }

func (m *iso2Machine) handle(now time.Time, payload []byte, dst []byte) ([]byte, Step, error) {
	m.last = now
	var err error
	m.req, _, err = m.dec.Decode(payload)
	msg := m.req.V2G_Message
	kind := iso2.KindNone
	if msg != nil {
		kind = msg.Body.Kind()
	}
	step := Step{Request: kind.Message()}
	if err != nil || msg == nil {
		rerr := &RequestError{Hex: hexExcerpt(payload), Len: len(payload), Err: fmt.Errorf("%w: %w", ErrUndecodable, err)}
		if msg == nil {
			rerr.Err = fmt.Errorf("%w: not an ISO 15118-2 V2G_Message", ErrUndecodable)
		}
		if !iso2IsRequest(kind) {
			m.ended = true
			return dst, step, rerr
		}
		rerr.Message = step.Request
		return m.fail(dst, &step, kind, iso2.ResponseCodeFAILED, rerr)
	}
	if !iso2IsRequest(kind) {
		m.ended = true
		return dst, step, &RequestError{Message: step.Request, Hex: hexExcerpt(payload), Len: len(payload), Err: ErrNotRequest}
	}
	if kind != iso2.KindSessionSetupReq && !bytes.Equal(msg.Header.SessionID, m.ids.id[:]) {
		return m.fail(dst, &step, kind, iso2.ResponseCodeFAILED_UnknownSession,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: SessionID %x, the session's is %x", ErrUnknownSession, []byte(msg.Header.SessionID), m.ids.id[:])})
	}
	if m.harvested && iso2MovesOn(kind, &msg.Body) {
		m.values(now, step.Request, iso2MovingValues(&msg.Body))
		return m.encode(dst, &step, m.refuse(kind), nil)
	}
	if !iso2Allowed[m.st][kind] {
		return m.fail(dst, &step, kind, iso2.ResponseCodeFAILED_SequenceError,
			&RequestError{Message: step.Request, Err: fmt.Errorf("%w: %s while %s", ErrSequence, kind, m.st)})
	}
	return m.encode(dst, &step, m.answer(now, kind, &msg.Body), nil)
}

func iso2IsRequest(k iso2.MessageKind) bool {
	switch k {
	case iso2.KindSessionSetupReq, iso2.KindServiceDiscoveryReq, iso2.KindServiceDetailReq, iso2.KindPaymentServiceSelectionReq,
		iso2.KindPaymentDetailsReq, iso2.KindAuthorizationReq, iso2.KindChargeParameterDiscoveryReq, iso2.KindPowerDeliveryReq,
		iso2.KindChargingStatusReq, iso2.KindMeteringReceiptReq, iso2.KindCertificateUpdateReq, iso2.KindCertificateInstallationReq,
		iso2.KindCableCheckReq, iso2.KindPreChargeReq, iso2.KindCurrentDemandReq, iso2.KindWeldingDetectionReq, iso2.KindSessionStopReq:
		return true
	}
	return false
}

func iso2MovesOn(k iso2.MessageKind, b *iso2.BodyType) bool {
	switch k {
	case iso2.KindCableCheckReq, iso2.KindPreChargeReq, iso2.KindCurrentDemandReq, iso2.KindWeldingDetectionReq, iso2.KindChargingStatusReq:
		return true
	case iso2.KindPowerDeliveryReq:
		return b.PowerDeliveryReq.ChargeProgress == iso2.ChargeProgressStart
	}
	return false
}

func iso2MovingValues(b *iso2.BodyType) record.Values {
	switch {
	case b.CableCheckReq != nil:
		return iso2StatusValues(&b.CableCheckReq.DC_EVStatus)
	case b.PreChargeReq != nil:
		return iso2StatusValues(&b.PreChargeReq.DC_EVStatus)
	case b.CurrentDemandReq != nil:
		return iso2StatusValues(&b.CurrentDemandReq.DC_EVStatus)
	case b.WeldingDetectionReq != nil:
		return iso2StatusValues(&b.WeldingDetectionReq.DC_EVStatus)
	}
	return record.Values{}
}

func (m *iso2Machine) fail(dst []byte, step *Step, kind iso2.MessageKind, code iso2.ResponseCodeType, err error) ([]byte, Step, error) {
	m.ended, m.st = true, iso2Ended
	body := iso2Failed(kind, code, m.cfg.EVSEID)
	if body == nil {
		return dst, *step, err
	}
	return m.encode(dst, step, body, err)
}

func (m *iso2Machine) encode(dst []byte, step *Step, body *iso2.BodyType, err error) ([]byte, Step, error) {
	step.Code = iso2Code(body).String()
	m.res = iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: m.ids.id[:]}, Body: *body}}
	out, encErr := iso2.Append(dst, &m.res)
	if encErr != nil {
		m.ended = true
		return dst, *step, &RequestError{Message: step.Request, Err: fmt.Errorf("encoding the answer: %w", encErr)}
	}
	return out, *step, err
}

func (m *iso2Machine) refuse(kind iso2.MessageKind) *iso2.BodyType {
	m.st, m.ended = iso2Ended, true
	return iso2Failed(kind, iso2.ResponseCodeFAILED, m.cfg.EVSEID)
}

func (m *iso2Machine) values(now time.Time, from message.Kind, v record.Values) {
	m.emit(record.Event{Kind: record.KindValues, At: now, Message: from, Values: v})
}

// modes are the energy transfer modes offered: DC for the soc and dc
// policies (the SoC exists only in DC messages), AC for the ac policy.
func (m *iso2Machine) modes() []iso2.EnergyTransferModeType {
	if m.cfg.Policy == PolicyAC {
		return []iso2.EnergyTransferModeType{iso2.EnergyTransferModeAC_three_phase_core, iso2.EnergyTransferModeAC_single_phase_core}
	}
	return []iso2.EnergyTransferModeType{iso2.EnergyTransferModeDC_extended}
}

func (m *iso2Machine) answer(now time.Time, kind iso2.MessageKind, b *iso2.BodyType) *iso2.BodyType {
	ok := iso2.ResponseCodeOK
	switch kind {
	case iso2.KindSessionSetupReq:
		code := iso2.ResponseCodeOK_NewSessionEstablished
		if sid := m.req.V2G_Message.Header.SessionID; m.ids.id != ([8]byte{}) && bytes.Equal(sid, m.ids.id[:]) {
			code = iso2.ResponseCodeOK_OldSessionJoined
		} else {
			m.ids.id = m.cfg.NewSessionID()
		}
		m.emit(record.Event{Kind: record.KindSessionSetup, At: now, EVCCID: append([]byte(nil), b.SessionSetupReq.EVCCID...)})
		m.st = iso2WaitServiceDiscovery
		t := now.Unix()
		return &iso2.BodyType{SessionSetupRes: &iso2.SessionSetupResType{ResponseCode: code, EVSEID: iso2EVSEID(m.cfg.EVSEID), EVSETimeStamp: &t}}
	case iso2.KindServiceDiscoveryReq:
		m.st = iso2WaitPaymentServiceSelection
		return &iso2.BodyType{ServiceDiscoveryRes: &iso2.ServiceDiscoveryResType{
			ResponseCode:      ok,
			PaymentOptionList: iso2.PaymentOptionListType{PaymentOption: []iso2.PaymentOptionType{iso2.PaymentOptionExternalPayment}},
			ChargeService: iso2.ChargeServiceType{ServiceID: 1, ServiceCategory: iso2.ServiceCategoryEVCharging, FreeService: true,
				SupportedEnergyTransferMode: iso2.SupportedEnergyTransferModeType{EnergyTransferMode: m.modes()}},
		}}
	case iso2.KindServiceDetailReq:
		return &iso2.BodyType{ServiceDetailRes: &iso2.ServiceDetailResType{ResponseCode: iso2.ResponseCodeFAILED_ServiceIDInvalid, ServiceID: b.ServiceDetailReq.ServiceID}}
	case iso2.KindPaymentServiceSelectionReq:
		m.st = iso2WaitAuthorization
		return &iso2.BodyType{PaymentServiceSelectionRes: &iso2.PaymentServiceSelectionResType{ResponseCode: ok}}
	case iso2.KindAuthorizationReq:
		m.st = iso2WaitChargeParameterDiscovery
		return &iso2.BodyType{AuthorizationRes: &iso2.AuthorizationResType{ResponseCode: ok, EVSEProcessing: iso2.EVSEProcessingFinished}}
	case iso2.KindChargeParameterDiscoveryReq:
		return m.chargeParameterDiscovery(now, b.ChargeParameterDiscoveryReq)
	case iso2.KindCableCheckReq:
		m.values(now, message.CableCheckReq, iso2StatusValues(&b.CableCheckReq.DC_EVStatus))
		if m.cfg.Policy != PolicyDC || m.ac {
			return m.refuse(kind)
		}
		proc := iso2.EVSEProcessingOngoing
		if m.dc.cableDone(&m.cfg, now) {
			proc, m.st = iso2.EVSEProcessingFinished, iso2WaitPreCharge
		}
		return &iso2.BodyType{CableCheckRes: &iso2.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid), EVSEProcessing: proc}}
	case iso2.KindPreChargeReq:
		r := b.PreChargeReq
		v := iso2StatusValues(&r.DC_EVStatus)
		v.TargetVoltageV = ptr(iso2Value(r.EVTargetVoltage))
		m.values(now, message.PreChargeReq, v)
		if m.cfg.Policy != PolicyDC || m.ac {
			return m.refuse(kind)
		}
		m.voltage = m.dc.preCharge(&m.cfg, now, m.voltage, *v.TargetVoltageV)
		m.st = iso2WaitPowerDelivery
		return &iso2.BodyType{PreChargeRes: &iso2.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid), EVSEPresentVoltage: iso2PV(m.voltage, iso2.UnitSymbolV)}}
	case iso2.KindPowerDeliveryReq:
		r := b.PowerDeliveryReq
		switch {
		case r.ChargeProgress == iso2.ChargeProgressStart && (m.cfg.Policy == PolicyDC && m.st != iso2WaitCableCheck || m.cfg.Policy == PolicyAC && m.ac):
			m.st = iso2WaitChargeLoop
		case r.ChargeProgress == iso2.ChargeProgressStart:
			return m.refuse(kind)
		case r.ChargeProgress == iso2.ChargeProgressRenegotiate:
			m.st = iso2WaitChargeParameterDiscovery
		case m.ac:
			m.st = iso2WaitWeldingDetection // then SessionStop
		default:
			m.st = iso2WaitWeldingDetection
		}
		res := &iso2.PowerDeliveryResType{ResponseCode: ok}
		if m.ac {
			res.AC_EVSEStatus = ptr(m.acStatus())
		} else {
			res.DC_EVSEStatus = ptr(m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid))
		}
		return &iso2.BodyType{PowerDeliveryRes: res}
	case iso2.KindChargingStatusReq:
		if !m.ac {
			return m.refuse(kind)
		}
		return &iso2.BodyType{ChargingStatusRes: &iso2.ChargingStatusResType{ResponseCode: ok, EVSEID: iso2EVSEID(m.cfg.EVSEID), SAScheduleTupleID: 1,
			EVSEMaxCurrent: ptr(iso2PV(32, iso2.UnitSymbolA)), AC_EVSEStatus: m.acStatus()}}
	case iso2.KindMeteringReceiptReq:
		res := &iso2.MeteringReceiptResType{ResponseCode: ok}
		if m.ac {
			res.AC_EVSEStatus = ptr(m.acStatus())
		} else {
			res.DC_EVSEStatus = ptr(m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid))
		}
		return &iso2.BodyType{MeteringReceiptRes: res}
	case iso2.KindCurrentDemandReq:
		r := b.CurrentDemandReq
		v := iso2StatusValues(&r.DC_EVStatus)
		v.TargetVoltageV, v.TargetCurrentA = ptr(iso2Value(r.EVTargetVoltage)), ptr(iso2Value(r.EVTargetCurrent))
		m.values(now, message.CurrentDemandReq, v)
		if m.cfg.Policy != PolicyDC || m.ac {
			return m.refuse(kind)
		}
		m.voltage = *v.TargetVoltageV
		cur := math.Min(*v.TargetCurrentA, m.cfg.Limits.MaxCurrentA)
		return &iso2.BodyType{CurrentDemandRes: &iso2.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid),
			EVSEPresentVoltage:       iso2PV(m.voltage, iso2.UnitSymbolV),
			EVSEPresentCurrent:       iso2PV(cur, iso2.UnitSymbolA),
			EVSECurrentLimitAchieved: cur < *v.TargetCurrentA,
			EVSEMaximumVoltageLimit:  ptr(iso2PV(m.cfg.Limits.MaxVoltageV, iso2.UnitSymbolV)),
			EVSEMaximumCurrentLimit:  ptr(iso2PV(m.cfg.Limits.MaxCurrentA, iso2.UnitSymbolA)),
			EVSEMaximumPowerLimit:    ptr(iso2PV(m.cfg.Limits.MaxPowerW, iso2.UnitSymbolW)),
			EVSEID:                   iso2EVSEID(m.cfg.EVSEID),
			SAScheduleTupleID:        1,
		}}
	case iso2.KindWeldingDetectionReq:
		m.values(now, message.WeldingDetectionReq, iso2StatusValues(&b.WeldingDetectionReq.DC_EVStatus))
		m.voltage = 0
		return &iso2.BodyType{WeldingDetectionRes: &iso2.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: m.dcStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid), EVSEPresentVoltage: iso2PV(0, iso2.UnitSymbolV)}}
	case iso2.KindSessionStopReq:
		m.st, m.ended = iso2Ended, true
		return &iso2.BodyType{SessionStopRes: &iso2.SessionStopResType{ResponseCode: ok}}
	}
	return m.refuse(kind)
}

func (m *iso2Machine) chargeParameterDiscovery(now time.Time, r *iso2.ChargeParameterDiscoveryReqType) *iso2.BodyType {
	m.cpd++
	res := &iso2.ChargeParameterDiscoveryResType{
		ResponseCode:   iso2.ResponseCodeOK,
		EVSEProcessing: iso2.EVSEProcessingFinished,
		SAScheduleList: iso2Schedule(m.cfg.Limits.MaxPowerW),
	}
	if p := r.AC_EVChargeParameter; p != nil {
		m.values(now, message.ChargeParameterDiscoveryReq, iso2ACValues(p))
		if m.cfg.Policy != PolicyAC {
			// AC asked of a DC-only offer: no SoC to be had; the car falls back to basic AC.
			res.ResponseCode = iso2.ResponseCodeFAILED_WrongEnergyTransferMode
			res.DC_EVSEChargeParameter = m.chargeParameter(iso2.DC_EVSEStatusCodeEVSE_Shutdown)
			m.st, m.ended = iso2Ended, true
			return &iso2.BodyType{ChargeParameterDiscoveryRes: res}
		}
		m.ac = true
		res.AC_EVSEChargeParameter = &iso2.AC_EVSEChargeParameterType{AC_EVSEStatus: m.acStatus(),
			EVSENominalVoltage: iso2PV(230, iso2.UnitSymbolV), EVSEMaxCurrent: iso2PV(32, iso2.UnitSymbolA)}
		m.st = iso2WaitPowerDelivery
		return &iso2.BodyType{ChargeParameterDiscoveryRes: res}
	}
	p := r.DC_EVChargeParameter
	if p == nil || m.cfg.Policy == PolicyAC {
		if p != nil {
			m.values(now, message.ChargeParameterDiscoveryReq, iso2CPDValues(p))
		}
		res.ResponseCode = iso2.ResponseCodeFAILED_WrongEnergyTransferMode
		res.AC_EVSEChargeParameter = &iso2.AC_EVSEChargeParameterType{AC_EVSEStatus: m.acStatus(),
			EVSENominalVoltage: iso2PV(230, iso2.UnitSymbolV), EVSEMaxCurrent: iso2PV(32, iso2.UnitSymbolA)}
		m.st, m.ended = iso2Ended, true
		return &iso2.BodyType{ChargeParameterDiscoveryRes: res}
	}
	m.values(now, message.ChargeParameterDiscoveryReq, iso2CPDValues(p))
	res.DC_EVSEChargeParameter = m.chargeParameter(iso2.DC_EVSEStatusCodeEVSE_Ready)
	switch {
	case m.cfg.Policy == PolicyDC:
		m.st = iso2WaitCableCheck
	case m.cpd == 1:
		res.EVSEProcessing = iso2.EVSEProcessingOngoing
		res.SAScheduleList = nil // a schedule comes with Finished only
		m.harvested = true
		m.st = iso2WaitCableCheck
	case m.ongoing < m.cfg.MaxOngoing:
		m.ongoing++
		res.EVSEProcessing = iso2.EVSEProcessingOngoing
		res.SAScheduleList = nil
		res.DC_EVSEChargeParameter = m.chargeParameter(iso2.DC_EVSEStatusCodeEVSE_Shutdown)
	default:
		res.ResponseCode = iso2.ResponseCodeFAILED
		res.DC_EVSEChargeParameter = m.chargeParameter(iso2.DC_EVSEStatusCodeEVSE_Shutdown)
		m.st, m.ended = iso2Ended, true
	}
	return &iso2.BodyType{ChargeParameterDiscoveryRes: res}
}

func (m *iso2Machine) dcStatus(code iso2.DC_EVSEStatusCodeType, iso iso2.IsolationLevelType) iso2.DC_EVSEStatusType {
	return iso2.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: code, EVSENotification: iso2.EVSENotificationNone}
}

func (m *iso2Machine) acStatus() iso2.AC_EVSEStatusType {
	return iso2.AC_EVSEStatusType{EVSENotification: iso2.EVSENotificationNone}
}

func (m *iso2Machine) chargeParameter(code iso2.DC_EVSEStatusCodeType) *iso2.DC_EVSEChargeParameterType {
	l := m.cfg.Limits
	return &iso2.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           m.dcStatus(code, iso2.IsolationLevelInvalid),
		EVSEMaximumCurrentLimit: iso2PV(l.MaxCurrentA, iso2.UnitSymbolA),
		EVSEMaximumPowerLimit:   iso2PV(l.MaxPowerW, iso2.UnitSymbolW),
		EVSEMaximumVoltageLimit: iso2PV(l.MaxVoltageV, iso2.UnitSymbolV),
		EVSEMinimumCurrentLimit: iso2PV(l.MinCurrentA, iso2.UnitSymbolA),
		EVSEMinimumVoltageLimit: iso2PV(l.MinVoltageV, iso2.UnitSymbolV),
		EVSEPeakCurrentRipple:   iso2PV(l.PeakCurrentRippleA, iso2.UnitSymbolA),
	}
}

func iso2Schedule(maxW float64) *iso2.SAScheduleListType {
	d := uint32(86400)
	return &iso2.SAScheduleListType{SAScheduleTuple: []iso2.SAScheduleTupleType{{
		SAScheduleTupleID: 1,
		PMaxSchedule: iso2.PMaxScheduleType{PMaxScheduleEntry: []iso2.PMaxScheduleEntryType{{
			RelativeTimeInterval: &iso2.RelativeTimeIntervalType{Start: 0, Duration: &d}, PMax: iso2PV(maxW, iso2.UnitSymbolW),
		}}},
	}}}
}

// iso2EVSEID is the charger's ID as ISO-2's string (7 to 37 characters).
func iso2EVSEID(s string) string {
	if len(s) > 37 {
		s = s[:37]
	}
	for len(s) < 7 {
		s += "0"
	}
	return s
}

// ISO2Values returns what an ISO 15118-2 ChargeParameterDiscoveryReq tells
// of the car, the multipliers applied: its DC values (with the SoC), or its
// AC ones (energy, maximum voltage and current). The session records them;
// replay reads captures with it.
func ISO2Values(r *iso2.ChargeParameterDiscoveryReqType) record.Values {
	if p := r.DC_EVChargeParameter; p != nil {
		return iso2CPDValues(p)
	}
	if p := r.AC_EVChargeParameter; p != nil {
		return iso2ACValues(p)
	}
	return record.Values{}
}

func iso2ACValues(p *iso2.AC_EVChargeParameterType) record.Values {
	return record.Values{
		EnergyRequestWh: ptr(iso2Value(p.EAmount)),
		MaxVoltageV:     ptr(iso2Value(p.EVMaxVoltage)),
		MaxCurrentA:     ptr(iso2Value(p.EVMaxCurrent)),
	}
}

func iso2CPDValues(p *iso2.DC_EVChargeParameterType) record.Values {
	v := iso2StatusValues(&p.DC_EVStatus)
	v.MaxVoltageV = ptr(iso2Value(p.EVMaximumVoltageLimit))
	v.MaxCurrentA = ptr(iso2Value(p.EVMaximumCurrentLimit))
	if p.EVMaximumPowerLimit != nil {
		v.MaxPowerW = ptr(iso2Value(*p.EVMaximumPowerLimit))
	}
	if p.EVEnergyCapacity != nil {
		v.EnergyCapacityWh = ptr(iso2Value(*p.EVEnergyCapacity))
	}
	if p.EVEnergyRequest != nil {
		v.EnergyRequestWh = ptr(iso2Value(*p.EVEnergyRequest))
	}
	if p.FullSOC != nil {
		v.FullSOC = ptr(int(*p.FullSOC))
	}
	if p.BulkSOC != nil {
		v.BulkSOC = ptr(int(*p.BulkSOC))
	}
	return v
}

func iso2StatusValues(s *iso2.DC_EVStatusType) record.Values {
	return record.Values{SoC: ptr(int(s.EVRESSSOC))}
}

func iso2Value(p iso2.PhysicalValueType) float64 { return scaled(int(p.Value), int(p.Multiplier)) }

func iso2PV(v float64, unit iso2.UnitSymbolType) iso2.PhysicalValueType {
	val, mul := physical(v)
	return iso2.PhysicalValueType{Value: val, Multiplier: mul, Unit: unit}
}

func iso2Code(b *iso2.BodyType) iso2.ResponseCodeType {
	switch {
	case b.SessionSetupRes != nil:
		return b.SessionSetupRes.ResponseCode
	case b.ServiceDiscoveryRes != nil:
		return b.ServiceDiscoveryRes.ResponseCode
	case b.ServiceDetailRes != nil:
		return b.ServiceDetailRes.ResponseCode
	case b.PaymentServiceSelectionRes != nil:
		return b.PaymentServiceSelectionRes.ResponseCode
	case b.PaymentDetailsRes != nil:
		return b.PaymentDetailsRes.ResponseCode
	case b.AuthorizationRes != nil:
		return b.AuthorizationRes.ResponseCode
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
	return iso2.ResponseCodeFAILED
}

// iso2Failed is the answer of kind's request with code and cautious mandatory fields.
func iso2Failed(kind iso2.MessageKind, code iso2.ResponseCodeType, evseID string) *iso2.BodyType {
	iso := iso2.IsolationLevelInvalid
	st := iso2.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: iso2.DC_EVSEStatusCodeEVSE_Shutdown}
	zero := func(u iso2.UnitSymbolType) iso2.PhysicalValueType { return iso2.PhysicalValueType{Unit: u} }
	id := iso2EVSEID(evseID)
	switch kind {
	case iso2.KindSessionSetupReq:
		return &iso2.BodyType{SessionSetupRes: &iso2.SessionSetupResType{ResponseCode: code, EVSEID: id}}
	case iso2.KindServiceDiscoveryReq:
		return &iso2.BodyType{ServiceDiscoveryRes: &iso2.ServiceDiscoveryResType{ResponseCode: code,
			PaymentOptionList: iso2.PaymentOptionListType{PaymentOption: []iso2.PaymentOptionType{iso2.PaymentOptionExternalPayment}},
			ChargeService: iso2.ChargeServiceType{ServiceID: 1, ServiceCategory: iso2.ServiceCategoryEVCharging,
				SupportedEnergyTransferMode: iso2.SupportedEnergyTransferModeType{EnergyTransferMode: []iso2.EnergyTransferModeType{iso2.EnergyTransferModeDC_extended}}}}}
	case iso2.KindServiceDetailReq:
		return &iso2.BodyType{ServiceDetailRes: &iso2.ServiceDetailResType{ResponseCode: code}}
	case iso2.KindPaymentServiceSelectionReq:
		return &iso2.BodyType{PaymentServiceSelectionRes: &iso2.PaymentServiceSelectionResType{ResponseCode: code}}
	case iso2.KindPaymentDetailsReq:
		return &iso2.BodyType{PaymentDetailsRes: &iso2.PaymentDetailsResType{ResponseCode: code, GenChallenge: make([]byte, 16)}}
	case iso2.KindAuthorizationReq:
		return &iso2.BodyType{AuthorizationRes: &iso2.AuthorizationResType{ResponseCode: code, EVSEProcessing: iso2.EVSEProcessingFinished}}
	case iso2.KindChargeParameterDiscoveryReq:
		return &iso2.BodyType{ChargeParameterDiscoveryRes: &iso2.ChargeParameterDiscoveryResType{ResponseCode: code, EVSEProcessing: iso2.EVSEProcessingFinished,
			DC_EVSEChargeParameter: &iso2.DC_EVSEChargeParameterType{DC_EVSEStatus: st, EVSEMaximumCurrentLimit: zero(iso2.UnitSymbolA),
				EVSEMaximumPowerLimit: zero(iso2.UnitSymbolW), EVSEMaximumVoltageLimit: zero(iso2.UnitSymbolV), EVSEMinimumCurrentLimit: zero(iso2.UnitSymbolA),
				EVSEMinimumVoltageLimit: zero(iso2.UnitSymbolV), EVSEPeakCurrentRipple: zero(iso2.UnitSymbolA)}}}
	case iso2.KindPowerDeliveryReq:
		return &iso2.BodyType{PowerDeliveryRes: &iso2.PowerDeliveryResType{ResponseCode: code, DC_EVSEStatus: &st}}
	case iso2.KindChargingStatusReq:
		return &iso2.BodyType{ChargingStatusRes: &iso2.ChargingStatusResType{ResponseCode: code, EVSEID: id, SAScheduleTupleID: 1}}
	case iso2.KindMeteringReceiptReq:
		return &iso2.BodyType{MeteringReceiptRes: &iso2.MeteringReceiptResType{ResponseCode: code, DC_EVSEStatus: &st}}
	case iso2.KindCableCheckReq:
		return &iso2.BodyType{CableCheckRes: &iso2.CableCheckResType{ResponseCode: code, DC_EVSEStatus: st, EVSEProcessing: iso2.EVSEProcessingFinished}}
	case iso2.KindPreChargeReq:
		return &iso2.BodyType{PreChargeRes: &iso2.PreChargeResType{ResponseCode: code, DC_EVSEStatus: st, EVSEPresentVoltage: zero(iso2.UnitSymbolV)}}
	case iso2.KindCurrentDemandReq:
		return &iso2.BodyType{CurrentDemandRes: &iso2.CurrentDemandResType{ResponseCode: code, DC_EVSEStatus: st,
			EVSEPresentVoltage: zero(iso2.UnitSymbolV), EVSEPresentCurrent: zero(iso2.UnitSymbolA), EVSEID: id, SAScheduleTupleID: 1}}
	case iso2.KindWeldingDetectionReq:
		return &iso2.BodyType{WeldingDetectionRes: &iso2.WeldingDetectionResType{ResponseCode: code, DC_EVSEStatus: st, EVSEPresentVoltage: zero(iso2.UnitSymbolV)}}
	case iso2.KindSessionStopReq:
		return &iso2.BodyType{SessionStopRes: &iso2.SessionStopResType{ResponseCode: code}}
	}
	return nil
}
