package secc

import (
	"fmt"

	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/v2g/iso2"
)

// iso2Allowed is ISO 15118-2's sequence (AC and DC): the requests each
// state accepts, the request that led to it again, and SessionStopReq
// after SessionSetup.
var iso2Allowed = func() (t [numStates][iso2.NumMessageKinds]bool) {
	allow := func(s Phase, kinds ...iso2.MessageKind) {
		for _, k := range kinds {
			t[s][k] = true
		}
	}
	allow(PhaseSessionSetup, iso2.KindSessionSetupReq)
	allow(PhaseServiceDiscovery, iso2.KindServiceDiscoveryReq, iso2.KindSessionSetupReq)
	allow(PhasePaymentSelection, iso2.KindPaymentServiceSelectionReq, iso2.KindServiceDetailReq, iso2.KindServiceDiscoveryReq)
	allow(PhaseAuthorization, iso2.KindAuthorizationReq, iso2.KindPaymentServiceSelectionReq)
	allow(PhaseChargeParameterDiscovery, iso2.KindChargeParameterDiscoveryReq, iso2.KindAuthorizationReq)
	allow(PhaseCableCheck, iso2.KindCableCheckReq, iso2.KindChargeParameterDiscoveryReq, iso2.KindPowerDeliveryReq)
	allow(PhasePreCharge, iso2.KindPreChargeReq, iso2.KindCableCheckReq)
	allow(PhasePowerDelivery, iso2.KindPowerDeliveryReq, iso2.KindPreChargeReq, iso2.KindChargeParameterDiscoveryReq)
	allow(PhaseChargeLoop, iso2.KindCurrentDemandReq, iso2.KindChargingStatusReq, iso2.KindMeteringReceiptReq, iso2.KindPowerDeliveryReq)
	allow(PhaseWeldingDetection, iso2.KindWeldingDetectionReq, iso2.KindPowerDeliveryReq)
	for s := PhaseServiceDiscovery; s < Phase(stEnded); s++ {
		allow(s, iso2.KindSessionStopReq)
	}
	return t
}()

var iso2StateNames = [numStates]string{"WaitForSessionSetupReq", "WaitForServiceDiscoveryReq", "WaitForPaymentServiceSelectionReq",
	"WaitForAuthorizationReq", "WaitForChargeParameterDiscoveryReq", "WaitForCableCheckReq", "WaitForPreChargeReq",
	"WaitForPowerDeliveryReq", "WaitForChargeLoopReq", "WaitForWeldingDetectionReq", "Ended"}

// iso2Phases maps ISO-2's requests to the model's phases.
var iso2Phases = func() (t [iso2.NumMessageKinds]Phase) {
	for k := range t {
		t[k] = NumPhases
	}
	for k, p := range map[iso2.MessageKind]Phase{
		iso2.KindSessionSetupReq: PhaseSessionSetup, iso2.KindServiceDiscoveryReq: PhaseServiceDiscovery,
		iso2.KindServiceDetailReq: PhaseServiceDetail, iso2.KindPaymentServiceSelectionReq: PhasePaymentSelection,
		iso2.KindPaymentDetailsReq: PhasePaymentDetails, iso2.KindAuthorizationReq: PhaseAuthorization,
		iso2.KindChargeParameterDiscoveryReq: PhaseChargeParameterDiscovery, iso2.KindPowerDeliveryReq: PhasePowerDelivery,
		iso2.KindChargingStatusReq: PhaseChargeLoop, iso2.KindMeteringReceiptReq: PhaseMeteringReceipt,
		iso2.KindCertificateUpdateReq: PhaseCertificate, iso2.KindCertificateInstallationReq: PhaseCertificate,
		iso2.KindCableCheckReq: PhaseCableCheck, iso2.KindPreChargeReq: PhasePreCharge, iso2.KindCurrentDemandReq: PhaseChargeLoop,
		iso2.KindWeldingDetectionReq: PhaseWeldingDetection, iso2.KindSessionStopReq: PhaseSessionStop,
	} {
		t[k] = p
	}
	return t
}()

// iso2Adapter is ISO 15118-2's side of the charger's session.
type iso2Adapter struct {
	cfg  *Config
	kind iso2.MessageKind
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec iso2.Decoder
	req *iso2.Document
	res iso2.Document
}

func (a *iso2Adapter) protocol() Protocol        { return ProtocolISO2 }
func (a *iso2Adapter) allowed(st state) bool     { return iso2Allowed[st][a.kind] }
func (a *iso2Adapter) stateName(st state) string { return iso2StateNames[st] }

func (a *iso2Adapter) decode(payload []byte, r *Request) error {
	*r = Request{}
	var err error
	a.req, _, err = a.dec.Decode(payload)
	msg := a.req.V2G_Message
	a.kind = iso2.KindNone
	if msg != nil {
		a.kind = msg.Body.Kind()
	}
	r.kind = a.kind
	r.request = iso2Phases[a.kind] < NumPhases
	if msg == nil {
		return fmt.Errorf("%w: not an ISO 15118-2 V2G_Message", ErrUndecodable)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	if !r.request {
		return nil
	}
	r.Phase = iso2Phases[a.kind]
	r.sessionID = msg.Header.SessionID
	b := &msg.Body
	switch a.kind {
	case iso2.KindSessionSetupReq:
		r.EVCCID = b.SessionSetupReq.EVCCID
	case iso2.KindChargeParameterDiscoveryReq:
		switch p := b.ChargeParameterDiscoveryReq; {
		case p.AC_EVChargeParameter != nil:
			r.Energy = EnergyAC
			r.Values, r.HasValues = iso2ACValues(p.AC_EVChargeParameter), true
		case p.DC_EVChargeParameter != nil:
			r.Energy = EnergyDC
			r.Values, r.HasValues = iso2CPDValues(p.DC_EVChargeParameter), true
		}
	case iso2.KindCableCheckReq:
		r.Values, r.HasValues = iso2StatusValues(&b.CableCheckReq.DC_EVStatus), true
	case iso2.KindPreChargeReq:
		q := b.PreChargeReq
		r.TargetVoltageV, r.TargetCurrentA = iso2Value(q.EVTargetVoltage), iso2Value(q.EVTargetCurrent)
		r.Values, r.HasValues = iso2StatusValues(&q.DC_EVStatus), true
		r.Values.TargetVoltageV = ptr(r.TargetVoltageV)
	case iso2.KindPowerDeliveryReq:
		r.ReadyToCharge = b.PowerDeliveryReq.ChargeProgress == iso2.ChargeProgressStart
		r.Renegotiate = b.PowerDeliveryReq.ChargeProgress == iso2.ChargeProgressRenegotiate
	case iso2.KindCurrentDemandReq:
		q := b.CurrentDemandReq
		r.Energy = EnergyDC
		r.TargetVoltageV, r.TargetCurrentA = iso2Value(q.EVTargetVoltage), iso2Value(q.EVTargetCurrent)
		r.Values, r.HasValues = iso2StatusValues(&q.DC_EVStatus), true
		r.Values.TargetVoltageV, r.Values.TargetCurrentA = ptr(r.TargetVoltageV), ptr(r.TargetCurrentA)
	case iso2.KindChargingStatusReq:
		r.Energy = EnergyAC
	case iso2.KindWeldingDetectionReq:
		r.Values, r.HasValues = iso2StatusValues(&b.WeldingDetectionReq.DC_EVStatus), true
	}
	r.MovesOn = movesOn(r)
	return nil
}

func (a *iso2Adapter) encode(dst []byte, body *iso2.BodyType, sid []byte) ([]byte, string, error) {
	code := iso2Code(body).String()
	a.res = iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: *body}}
	out, err := iso2.Append(dst, &a.res)
	if err != nil {
		return dst, code, err
	}
	return out, code, nil
}

var iso2Failures = [...]iso2.ResponseCodeType{failFAILED: iso2.ResponseCodeFAILED, failUnknownSession: iso2.ResponseCodeFAILED_UnknownSession,
	failSequence: iso2.ResponseCodeFAILED_SequenceError}

func (a *iso2Adapter) failed(dst []byte, f failure, sid []byte) ([]byte, string, bool, error) {
	body := iso2Failed(a.kind, iso2Failures[f], a.cfg.EVSEID)
	if body == nil {
		return dst, "", false, nil
	}
	out, code, err := a.encode(dst, body, sid)
	return out, code, true, err
}

func (a *iso2Adapter) answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error) {
	if d.Outcome == Fail && r.Phase != PhaseChargeParameterDiscovery {
		out, code, _, err := a.failed(dst, failFAILED, sid)
		return out, code, err
	}
	return a.encode(dst, a.body(p, r, d), sid)
}

// body is the answer of an allowed request.
func (a *iso2Adapter) body(p *Progress, r *Request, d *Decision) *iso2.BodyType {
	ok := iso2.ResponseCodeOK
	lim := &a.cfg.Limits
	ready := iso2DCStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid)
	switch a.kind {
	case iso2.KindSessionSetupReq:
		code := iso2.ResponseCodeOK_NewSessionEstablished
		if p.Joined {
			code = iso2.ResponseCodeOK_OldSessionJoined
		}
		t := p.Now.Unix()
		return &iso2.BodyType{SessionSetupRes: &iso2.SessionSetupResType{ResponseCode: code, EVSEID: iso2EVSEID(a.cfg.EVSEID), EVSETimeStamp: &t}}
	case iso2.KindServiceDiscoveryReq:
		// DC for the soc and dc policies (the SoC exists only in DC messages), AC for the ac policy.
		modes := []iso2.EnergyTransferModeType{iso2.EnergyTransferModeDC_extended}
		if d.Offer == EnergyAC {
			modes = []iso2.EnergyTransferModeType{iso2.EnergyTransferModeAC_three_phase_core, iso2.EnergyTransferModeAC_single_phase_core}
		}
		return &iso2.BodyType{ServiceDiscoveryRes: &iso2.ServiceDiscoveryResType{
			ResponseCode:      ok,
			PaymentOptionList: iso2.PaymentOptionListType{PaymentOption: []iso2.PaymentOptionType{iso2.PaymentOptionExternalPayment}},
			ChargeService: iso2.ChargeServiceType{ServiceID: 1, ServiceCategory: iso2.ServiceCategoryEVCharging, FreeService: true,
				SupportedEnergyTransferMode: iso2.SupportedEnergyTransferModeType{EnergyTransferMode: modes}},
		}}
	case iso2.KindServiceDetailReq:
		return &iso2.BodyType{ServiceDetailRes: &iso2.ServiceDetailResType{ResponseCode: iso2.ResponseCodeFAILED_ServiceIDInvalid, ServiceID: a.req.V2G_Message.Body.ServiceDetailReq.ServiceID}}
	case iso2.KindPaymentServiceSelectionReq:
		return &iso2.BodyType{PaymentServiceSelectionRes: &iso2.PaymentServiceSelectionResType{ResponseCode: ok}}
	case iso2.KindAuthorizationReq:
		return &iso2.BodyType{AuthorizationRes: &iso2.AuthorizationResType{ResponseCode: ok, EVSEProcessing: iso2.EVSEProcessingFinished}}
	case iso2.KindChargeParameterDiscoveryReq:
		return &iso2.BodyType{ChargeParameterDiscoveryRes: a.chargeParameterDiscovery(r, d)}
	case iso2.KindCableCheckReq:
		proc := iso2.EVSEProcessingFinished
		if d.Outcome == Ongoing {
			proc = iso2.EVSEProcessingOngoing
		}
		return &iso2.BodyType{CableCheckRes: &iso2.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEProcessing: proc}}
	case iso2.KindPreChargeReq:
		return &iso2.BodyType{PreChargeRes: &iso2.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEPresentVoltage: iso2PV(d.PresentVoltageV, iso2.UnitSymbolV)}}
	case iso2.KindPowerDeliveryReq:
		res := &iso2.PowerDeliveryResType{ResponseCode: ok}
		if p.AC {
			res.AC_EVSEStatus = ptr(iso2ACStatus())
		} else {
			res.DC_EVSEStatus = &ready
		}
		return &iso2.BodyType{PowerDeliveryRes: res}
	case iso2.KindChargingStatusReq:
		return &iso2.BodyType{ChargingStatusRes: &iso2.ChargingStatusResType{ResponseCode: ok, EVSEID: iso2EVSEID(a.cfg.EVSEID), SAScheduleTupleID: 1,
			EVSEMaxCurrent: ptr(iso2PV(32, iso2.UnitSymbolA)), AC_EVSEStatus: iso2ACStatus()}}
	case iso2.KindMeteringReceiptReq:
		res := &iso2.MeteringReceiptResType{ResponseCode: ok}
		if p.AC {
			res.AC_EVSEStatus = ptr(iso2ACStatus())
		} else {
			res.DC_EVSEStatus = &ready
		}
		return &iso2.BodyType{MeteringReceiptRes: res}
	case iso2.KindCurrentDemandReq:
		return &iso2.BodyType{CurrentDemandRes: &iso2.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            ready,
			EVSEPresentVoltage:       iso2PV(d.PresentVoltageV, iso2.UnitSymbolV),
			EVSEPresentCurrent:       iso2PV(d.PresentCurrentA, iso2.UnitSymbolA),
			EVSECurrentLimitAchieved: d.CurrentLimitAchieved,
			EVSEMaximumVoltageLimit:  ptr(iso2PV(lim.MaxVoltageV, iso2.UnitSymbolV)),
			EVSEMaximumCurrentLimit:  ptr(iso2PV(lim.MaxCurrentA, iso2.UnitSymbolA)),
			EVSEMaximumPowerLimit:    ptr(iso2PV(lim.MaxPowerW, iso2.UnitSymbolW)),
			EVSEID:                   iso2EVSEID(a.cfg.EVSEID),
			SAScheduleTupleID:        1,
		}}
	case iso2.KindWeldingDetectionReq:
		return &iso2.BodyType{WeldingDetectionRes: &iso2.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: ready, EVSEPresentVoltage: iso2PV(d.PresentVoltageV, iso2.UnitSymbolV)}}
	case iso2.KindSessionStopReq:
		return &iso2.BodyType{SessionStopRes: &iso2.SessionStopResType{ResponseCode: ok}}
	}
	return iso2Failed(a.kind, iso2.ResponseCodeFAILED, a.cfg.EVSEID)
}

// chargeParameterDiscovery answers the car's battery values. Ongoing comes
// without a schedule (a schedule comes with Finished only); a wrong energy
// transfer is answered with the parameters of the one the charger serves.
func (a *iso2Adapter) chargeParameterDiscovery(r *Request, d *Decision) *iso2.ChargeParameterDiscoveryResType {
	res := &iso2.ChargeParameterDiscoveryResType{
		ResponseCode:   iso2.ResponseCodeOK,
		EVSEProcessing: iso2.EVSEProcessingFinished,
		SAScheduleList: iso2Schedule(a.cfg.Limits.MaxPowerW),
	}
	status := iso2.DC_EVSEStatusCodeEVSE_Ready
	switch d.Outcome {
	case Ongoing:
		res.EVSEProcessing, res.SAScheduleList = iso2.EVSEProcessingOngoing, nil
	case Shutdown:
		res.EVSEProcessing, res.SAScheduleList = iso2.EVSEProcessingOngoing, nil
		status = iso2.DC_EVSEStatusCodeEVSE_Shutdown
	case Fail:
		res.ResponseCode = iso2.ResponseCodeFAILED
		status = iso2.DC_EVSEStatusCodeEVSE_Shutdown
	case WrongEnergy:
		res.ResponseCode = iso2.ResponseCodeFAILED_WrongEnergyTransferMode
		status = iso2.DC_EVSEStatusCodeEVSE_Shutdown
	}
	if (r.Energy == EnergyAC) != (d.Outcome == WrongEnergy) {
		res.AC_EVSEChargeParameter = &iso2.AC_EVSEChargeParameterType{AC_EVSEStatus: iso2ACStatus(),
			EVSENominalVoltage: iso2PV(230, iso2.UnitSymbolV), EVSEMaxCurrent: iso2PV(32, iso2.UnitSymbolA)}
	} else {
		res.DC_EVSEChargeParameter = iso2ChargeParameter(&a.cfg.Limits, status)
	}
	return res
}

func iso2DCStatus(code iso2.DC_EVSEStatusCodeType, iso iso2.IsolationLevelType) iso2.DC_EVSEStatusType {
	return iso2.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: code, EVSENotification: iso2.EVSENotificationNone}
}

func iso2ACStatus() iso2.AC_EVSEStatusType {
	return iso2.AC_EVSEStatusType{EVSENotification: iso2.EVSENotificationNone}
}

func iso2ChargeParameter(l *Limits, code iso2.DC_EVSEStatusCodeType) *iso2.DC_EVSEChargeParameterType {
	return &iso2.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           iso2DCStatus(code, iso2.IsolationLevelInvalid),
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

func iso2IsRequest(k iso2.MessageKind) bool { return iso2Phases[k] < NumPhases }
