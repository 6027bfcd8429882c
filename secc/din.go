package secc

import (
	"encoding/hex"
	"fmt"
	"math"

	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/v2g/din"
)

// dinAllowed is DIN 70121's sequence: the requests each state accepts. A
// state also takes the request that led to it again (Ongoing loops, a car
// repeating itself), and SessionStopReq ends any session after SessionSetup.
var dinAllowed = func() (t [numStates][din.NumMessageKinds]bool) {
	allow := func(s Phase, kinds ...din.MessageKind) {
		for _, k := range kinds {
			t[s][k] = true
		}
	}
	allow(PhaseSessionSetup, din.KindSessionSetupReq)
	allow(PhaseServiceDiscovery, din.KindServiceDiscoveryReq, din.KindSessionSetupReq)
	allow(PhasePaymentSelection, din.KindServicePaymentSelectionReq, din.KindServiceDiscoveryReq)
	// External payment: some cars skip ContractAuthentication.
	allow(PhaseAuthorization, din.KindContractAuthenticationReq, din.KindChargeParameterDiscoveryReq, din.KindServicePaymentSelectionReq)
	allow(PhaseChargeParameterDiscovery, din.KindChargeParameterDiscoveryReq, din.KindContractAuthenticationReq)
	// After ChargeParameterDiscovery a plug-in hybrid may send PowerDeliveryReq(stop).
	allow(PhaseCableCheck, din.KindCableCheckReq, din.KindChargeParameterDiscoveryReq, din.KindPowerDeliveryReq)
	allow(PhasePreCharge, din.KindPreChargeReq, din.KindCableCheckReq)
	allow(PhasePowerDelivery, din.KindPowerDeliveryReq, din.KindPreChargeReq)
	allow(PhaseChargeLoop, din.KindCurrentDemandReq, din.KindPowerDeliveryReq)
	allow(PhaseWeldingDetection, din.KindWeldingDetectionReq, din.KindPowerDeliveryReq)
	for s := PhaseServiceDiscovery; s < Phase(stEnded); s++ {
		allow(s, din.KindSessionStopReq)
	}
	return t
}()

var dinStateNames = [numStates]string{"WaitForSessionSetupReq", "WaitForServiceDiscoveryReq", "WaitForServicePaymentSelectionReq",
	"WaitForContractAuthenticationReq", "WaitForChargeParameterDiscoveryReq", "WaitForCableCheckReq", "WaitForPreChargeReq",
	"WaitForPowerDeliveryReq", "WaitForCurrentDemandReq", "WaitForWeldingDetectionReq", "Ended"}

// dinPhases maps DIN's requests to the model's phases.
var dinPhases = func() (t [din.NumMessageKinds]Phase) {
	for k := range t {
		t[k] = NumPhases
	}
	for k, p := range map[din.MessageKind]Phase{
		din.KindSessionSetupReq: PhaseSessionSetup, din.KindServiceDiscoveryReq: PhaseServiceDiscovery,
		din.KindServiceDetailReq: PhaseServiceDetail, din.KindServicePaymentSelectionReq: PhasePaymentSelection,
		din.KindPaymentDetailsReq: PhasePaymentDetails, din.KindContractAuthenticationReq: PhaseAuthorization,
		din.KindChargeParameterDiscoveryReq: PhaseChargeParameterDiscovery, din.KindPowerDeliveryReq: PhasePowerDelivery,
		din.KindChargingStatusReq: PhaseChargeLoop, din.KindMeteringReceiptReq: PhaseMeteringReceipt,
		din.KindCertificateUpdateReq: PhaseCertificate, din.KindCertificateInstallationReq: PhaseCertificate,
		din.KindCableCheckReq: PhaseCableCheck, din.KindPreChargeReq: PhasePreCharge, din.KindCurrentDemandReq: PhaseChargeLoop,
		din.KindWeldingDetectionReq: PhaseWeldingDetection, din.KindSessionStopReq: PhaseSessionStop,
	} {
		t[k] = p
	}
	return t
}()

// dinAdapter is DIN 70121's side of the charger's session.
type dinAdapter struct {
	cfg  *Config
	kind din.MessageKind
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec din.Decoder
	req *din.Document
	res din.Document
}

func (a *dinAdapter) protocol() Protocol        { return ProtocolDIN }
func (a *dinAdapter) allowed(st state) bool     { return dinAllowed[st][a.kind] }
func (a *dinAdapter) stateName(st state) string { return dinStateNames[st] }

func (a *dinAdapter) decode(payload []byte, r *Request) error {
	*r = Request{}
	var err error
	a.req, _, err = a.dec.Decode(payload)
	msg := a.req.V2G_Message
	a.kind = din.KindNone
	if msg != nil {
		a.kind = msg.Body.Kind()
	}
	r.kind = a.kind
	r.request = dinPhases[a.kind] < NumPhases
	if msg == nil {
		return fmt.Errorf("%w: not a DIN V2G_Message", ErrUndecodable)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	if !r.request {
		return nil
	}
	r.Phase = dinPhases[a.kind]
	r.sessionID = msg.Header.SessionID
	b := &msg.Body
	switch a.kind {
	case din.KindSessionSetupReq:
		r.EVCCID = b.SessionSetupReq.EVCCID
	case din.KindChargeParameterDiscoveryReq:
		// DIN is DC only: an AC request gets FAILED_WrongEnergyTransferType, its values unrecorded.
		switch p := b.ChargeParameterDiscoveryReq; {
		case p.DC_EVChargeParameter != nil:
			r.Energy = EnergyDC
			r.Values, r.HasValues = dinCPDValues(p.DC_EVChargeParameter), true
		case p.AC_EVChargeParameter != nil:
			r.Energy = EnergyAC
		}
	case din.KindCableCheckReq:
		r.Values, r.HasValues = dinStatusValues(&b.CableCheckReq.DC_EVStatus), true
	case din.KindPreChargeReq:
		q := b.PreChargeReq
		r.TargetVoltageV, r.TargetCurrentA = dinValue(q.EVTargetVoltage), dinValue(q.EVTargetCurrent)
		r.Values, r.HasValues = dinStatusValues(&q.DC_EVStatus), true
		r.Values.TargetVoltageV = ptr(r.TargetVoltageV)
	case din.KindPowerDeliveryReq:
		r.ReadyToCharge = b.PowerDeliveryReq.ReadyToChargeState
	case din.KindCurrentDemandReq:
		q := b.CurrentDemandReq
		r.Energy = EnergyDC
		r.TargetVoltageV, r.TargetCurrentA = dinValue(q.EVTargetVoltage), dinValue(q.EVTargetCurrent)
		r.Values, r.HasValues = dinStatusValues(&q.DC_EVStatus), true
		r.Values.TargetVoltageV, r.Values.TargetCurrentA = ptr(r.TargetVoltageV), ptr(r.TargetCurrentA)
	case din.KindChargingStatusReq:
		r.Energy = EnergyAC
	case din.KindWeldingDetectionReq:
		r.Values, r.HasValues = dinStatusValues(&b.WeldingDetectionReq.DC_EVStatus), true
	}
	// DIN's ChargingStatusReq (AC, which DIN does not have) is only ever out of sequence.
	r.MovesOn = movesOn(r) && a.kind != din.KindChargingStatusReq
	return nil
}

func (a *dinAdapter) encode(dst []byte, body *din.BodyType, sid []byte) ([]byte, string, error) {
	code := dinCode(body).String()
	a.res = din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: *body}}
	out, err := din.Append(dst, &a.res)
	if err != nil {
		return dst, code, err
	}
	return out, code, nil
}

var dinFailures = [...]din.ResponseCodeType{failFAILED: din.ResponseCodeFAILED, failUnknownSession: din.ResponseCodeFAILED_UnknownSession,
	failSequence: din.ResponseCodeFAILED_SequenceError}

func (a *dinAdapter) failed(dst []byte, f failure, sid []byte) ([]byte, string, bool, error) {
	body := dinFailed(a.kind, dinFailures[f])
	if body == nil {
		return dst, "", false, nil
	}
	out, code, err := a.encode(dst, body, sid)
	return out, code, true, err
}

func (a *dinAdapter) answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error) {
	if d.Outcome == Fail && r.Phase != PhaseChargeParameterDiscovery {
		out, code, _, err := a.failed(dst, failFAILED, sid)
		return out, code, err
	}
	return a.encode(dst, a.body(p, r, d), sid)
}

// body is the answer of an allowed request.
func (a *dinAdapter) body(p *Progress, r *Request, d *Decision) *din.BodyType {
	ok := din.ResponseCodeOK
	lim := &a.cfg.Limits
	ready := dinStatus(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid)
	switch a.kind {
	case din.KindSessionSetupReq:
		code := din.ResponseCodeOK_NewSessionEstablished
		if p.Joined {
			code = din.ResponseCodeOK_OldSessionJoined
		}
		t := p.Now.Unix()
		return &din.BodyType{SessionSetupRes: &din.SessionSetupResType{ResponseCode: code, EVSEID: dinEVSEID(a.cfg.EVSEID), DateTimeNow: &t}}
	case din.KindServiceDiscoveryReq:
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
		return &din.BodyType{ServicePaymentSelectionRes: &din.ServicePaymentSelectionResType{ResponseCode: ok}}
	case din.KindContractAuthenticationReq:
		return &din.BodyType{ContractAuthenticationRes: &din.ContractAuthenticationResType{ResponseCode: ok, EVSEProcessing: din.EVSEProcessingFinished}}
	case din.KindChargeParameterDiscoveryReq:
		return &din.BodyType{ChargeParameterDiscoveryRes: a.chargeParameterDiscovery(d)}
	case din.KindCableCheckReq:
		proc := din.EVSEProcessingFinished
		if d.Outcome == Ongoing {
			proc = din.EVSEProcessingOngoing
		}
		return &din.BodyType{CableCheckRes: &din.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEProcessing: proc}}
	case din.KindPreChargeReq:
		return &din.BodyType{PreChargeRes: &din.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEPresentVoltage: dinPV(d.PresentVoltageV, din.UnitSymbolV)}}
	case din.KindPowerDeliveryReq:
		return &din.BodyType{PowerDeliveryRes: &din.PowerDeliveryResType{ResponseCode: ok, DC_EVSEStatus: &ready}}
	case din.KindCurrentDemandReq:
		return &din.BodyType{CurrentDemandRes: &din.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            ready,
			EVSEPresentVoltage:       dinPV(d.PresentVoltageV, din.UnitSymbolV),
			EVSEPresentCurrent:       dinPV(d.PresentCurrentA, din.UnitSymbolA),
			EVSECurrentLimitAchieved: d.CurrentLimitAchieved,
			EVSEMaximumVoltageLimit:  ptr(dinPV(lim.MaxVoltageV, din.UnitSymbolV)),
			EVSEMaximumCurrentLimit:  ptr(dinPV(lim.MaxCurrentA, din.UnitSymbolA)),
			EVSEMaximumPowerLimit:    ptr(dinPV(lim.MaxPowerW, din.UnitSymbolW)),
		}}
	case din.KindWeldingDetectionReq:
		return &din.BodyType{WeldingDetectionRes: &din.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEPresentVoltage: dinPV(d.PresentVoltageV, din.UnitSymbolV)}}
	case din.KindSessionStopReq:
		return &din.BodyType{SessionStopRes: &din.SessionStopResType{ResponseCode: ok}}
	}
	return dinFailed(a.kind, din.ResponseCodeFAILED)
}

// chargeParameterDiscovery answers the car's battery values: Ongoing,
// EVSE_Shutdown and FAILED keep the charger's limits and schedule.
func (a *dinAdapter) chargeParameterDiscovery(d *Decision) *din.ChargeParameterDiscoveryResType {
	res := &din.ChargeParameterDiscoveryResType{
		ResponseCode:   din.ResponseCodeOK,
		EVSEProcessing: din.EVSEProcessingFinished,
		SAScheduleList: dinSchedule(a.cfg.Limits.MaxPowerW),
	}
	status := din.DC_EVSEStatusCodeEVSE_Ready
	switch d.Outcome {
	case Ongoing:
		res.EVSEProcessing = din.EVSEProcessingOngoing
	case Shutdown:
		res.EVSEProcessing = din.EVSEProcessingOngoing
		status = din.DC_EVSEStatusCodeEVSE_Shutdown
	case Fail:
		res.ResponseCode = din.ResponseCodeFAILED
		status = din.DC_EVSEStatusCodeEVSE_Shutdown
	case WrongEnergy:
		res.ResponseCode = din.ResponseCodeFAILED_WrongEnergyTransferType
	}
	res.DC_EVSEChargeParameter = dinChargeParameter(&a.cfg.Limits, status)
	return res
}

func dinStatus(code din.DC_EVSEStatusCodeType, iso din.IsolationLevelType) din.DC_EVSEStatusType {
	return din.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: code, EVSENotification: din.EVSENotificationNone}
}

func dinChargeParameter(l *Limits, code din.DC_EVSEStatusCodeType) *din.DC_EVSEChargeParameterType {
	return &din.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           dinStatus(code, din.IsolationLevelInvalid),
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

func isDINRequest(k din.MessageKind) bool { return dinPhases[k] < NumPhases }
