package secc

import (
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/record"
	"sync"
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
var iso2Phases = phaseTable(iso2.NumMessageKinds, map[iso2.MessageKind]Phase{
	iso2.KindSessionSetupReq: PhaseSessionSetup, iso2.KindServiceDiscoveryReq: PhaseServiceDiscovery,
	iso2.KindServiceDetailReq: PhaseServiceDetail, iso2.KindPaymentServiceSelectionReq: PhasePaymentSelection,
	iso2.KindPaymentDetailsReq: PhasePaymentDetails, iso2.KindAuthorizationReq: PhaseAuthorization,
	iso2.KindChargeParameterDiscoveryReq: PhaseChargeParameterDiscovery, iso2.KindPowerDeliveryReq: PhasePowerDelivery,
	iso2.KindChargingStatusReq: PhaseChargeLoop, iso2.KindMeteringReceiptReq: PhaseMeteringReceipt,
	iso2.KindCertificateUpdateReq: PhaseCertificate, iso2.KindCertificateInstallationReq: PhaseCertificate,
	iso2.KindCableCheckReq: PhaseCableCheck, iso2.KindPreChargeReq: PhasePreCharge, iso2.KindCurrentDemandReq: PhaseChargeLoop,
	iso2.KindWeldingDetectionReq: PhaseWeldingDetection, iso2.KindSessionStopReq: PhaseSessionStop,
})

// iso2Adapter is ISO 15118-2's side of the charger's session.
type iso2Adapter struct {
	cfg  *Config
	kind iso2.MessageKind
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec iso2.Decoder
	req *iso2.Document
	// The answer is built in memory the adapter keeps (ans) and encoded
	// at once, so that answering allocates nothing; res holds msg.
	res iso2.Document
	msg iso2.V2G_Message
	ans iso2Answers
	// evseID and schedule, made of cfg
	made[string, *iso2.SAScheduleListType]
}

// iso2Answers holds the answers' parts for reuse.
type iso2Answers struct {
	now      int64
	setup    iso2.SessionSetupResType
	sd       iso2.ServiceDiscoveryResType
	detail   iso2.ServiceDetailResType
	pss      iso2.PaymentServiceSelectionResType
	auth     iso2.AuthorizationResType
	cpd      iso2.ChargeParameterDiscoveryResType
	dcp      iso2.DC_EVSEChargeParameterType
	acp      iso2.AC_EVSEChargeParameterType
	cc       iso2.CableCheckResType
	pc       iso2.PreChargeResType
	pd       iso2.PowerDeliveryResType
	dcStatus iso2.DC_EVSEStatusType
	acStatus iso2.AC_EVSEStatusType
	cs       iso2.ChargingStatusResType
	maxI     iso2.PhysicalValueType
	mr       iso2.MeteringReceiptResType
	cd       iso2.CurrentDemandResType
	limits   [3]iso2.PhysicalValueType
	wd       iso2.WeldingDetectionResType
	ss       iso2.SessionStopResType
}

// status is the charger's status of an AC session or of a DC one.
func (x *iso2Answers) status(ac bool) (*iso2.AC_EVSEStatusType, *iso2.DC_EVSEStatusType) {
	if ac {
		return &x.acStatus, nil
	}
	return nil, &x.dcStatus
}

func newISO2Adapter(cfg *Config) *iso2Adapter {
	a := pooled(&iso2Adapters, func(a *iso2Adapter) { a.res.V2G_Message = &a.msg })
	a.cfg, a.kind, a.req = cfg, iso2.KindNone, nil
	a.made.of(cfg, iso2EVSEID, iso2Schedule)
	return a
}

// iso2Adapters holds the adapters of ended sessions for the next ones: an
// adapter's decoder and answers are most of a session's memory.
var iso2Adapters sync.Pool

func (a *iso2Adapter) release() {
	a.cfg, a.req, a.msg = nil, nil, iso2.V2G_Message{}
	iso2Adapters.Put(a)
}

func (a *iso2Adapter) protocol() Protocol        { return ProtocolISO2 }
func (a *iso2Adapter) allowed(st state) bool     { return iso2Allowed[st][a.kind] }
func (a *iso2Adapter) stateName(st state) string { return iso2StateNames[st] }

func (a *iso2Adapter) decode(payload []byte, r *Request) error {
	var err error
	var b *iso2.BodyType
	a.req, _, err = a.dec.Decode(payload)
	if b, a.kind, err = decoded[*iso2.Document](r, a.req, err, iso2Phases, "an ISO 15118-2"); err != nil || !r.request {
		return err
	}
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
	case iso2.KindPowerDeliveryReq:
		r.ReadyToCharge = b.PowerDeliveryReq.ChargeProgress == iso2.ChargeProgressStart
		r.Renegotiate = b.PowerDeliveryReq.ChargeProgress == iso2.ChargeProgressRenegotiate
	}
	targets(r, b.EVTargetVoltage(), b.EVTargetCurrent(), iso2Value)
	if st := b.DC_EVStatus(); st != nil {
		r.dcStatus(st.EVRESSSOC)
	}
	r.MovesOn = movesOn(r)
	return nil
}

func (a *iso2Adapter) encode(dst []byte, body *iso2.BodyType, sid []byte) ([]byte, string, error) {
	a.msg = iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: *body}
	rc, _ := a.msg.Body.ResponseCode()
	out, err := iso2.Append(dst, &a.res)
	return out, rc.String(), err
}

// iso2Codes are the model's codes in ISO-2's words.
var iso2Codes = [numCodes]iso2.ResponseCodeType{codeOK: iso2.ResponseCodeOK, codeFailed: iso2.ResponseCodeFAILED,
	codeUnknownSession: iso2.ResponseCodeFAILED_UnknownSession, codeSequence: iso2.ResponseCodeFAILED_SequenceError,
	codeWrongEnergy: iso2.ResponseCodeFAILED_WrongEnergyTransferMode}

func (a *iso2Adapter) failed(dst []byte, c code, sid []byte) ([]byte, string, bool, error) {
	body := iso2Failed(a.kind, iso2Codes[c], a.cfg.EVSEID)
	if body == nil {
		return dst, "", false, nil
	}
	out, code, err := a.encode(dst, body, sid)
	return out, code, true, err
}

// answer encodes the answer of an allowed request.
func (a *iso2Adapter) answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error) {
	ok := iso2.ResponseCodeOK
	lim := &a.cfg.Limits
	x := &a.ans
	x.dcStatus = iso2DCStatus(iso2.DC_EVSEStatusCodeEVSE_Ready, iso2.IsolationLevelValid)
	x.acStatus = iso2.AC_EVSEStatusType{EVSENotification: iso2.EVSENotificationNone}
	var b iso2.BodyType
	switch a.kind {
	case iso2.KindSessionSetupReq:
		ok = iso2.ResponseCodeOK_NewSessionEstablished
		if p.Joined {
			ok = iso2.ResponseCodeOK_OldSessionJoined
		}
		x.now = p.Now.Unix()
		x.setup = iso2.SessionSetupResType{ResponseCode: ok, EVSEID: a.evseID, EVSETimeStamp: &x.now}
		b.SessionSetupRes = &x.setup
	case iso2.KindServiceDiscoveryReq:
		// DC for the soc and dc policies (the SoC exists only in DC messages), AC for the ac policy.
		modes := iso2DCModes
		if d.Offer == EnergyAC {
			modes = iso2ACModes
		}
		x.sd = iso2.ServiceDiscoveryResType{
			ResponseCode:      ok,
			PaymentOptionList: iso2.PaymentOptionListType{PaymentOption: iso2ExternalPayment},
			ChargeService: iso2.ChargeServiceType{ServiceID: 1, ServiceCategory: iso2.ServiceCategoryEVCharging, FreeService: true,
				SupportedEnergyTransferMode: iso2.SupportedEnergyTransferModeType{EnergyTransferMode: modes}},
		}
		b.ServiceDiscoveryRes = &x.sd
	case iso2.KindServiceDetailReq:
		ok = iso2.ResponseCodeFAILED_ServiceIDInvalid
		x.detail = iso2.ServiceDetailResType{ResponseCode: ok, ServiceID: a.req.V2G_Message.Body.ServiceDetailReq.ServiceID}
		b.ServiceDetailRes = &x.detail
	case iso2.KindPaymentServiceSelectionReq:
		x.pss = iso2.PaymentServiceSelectionResType{ResponseCode: ok}
		b.PaymentServiceSelectionRes = &x.pss
	case iso2.KindAuthorizationReq:
		x.auth = iso2.AuthorizationResType{ResponseCode: ok, EVSEProcessing: iso2.EVSEProcessingFinished}
		b.AuthorizationRes = &x.auth
	case iso2.KindChargeParameterDiscoveryReq:
		a.chargeParameterDiscovery(r, d)
		b.ChargeParameterDiscoveryRes = &x.cpd
	case iso2.KindCableCheckReq:
		x.cc = iso2.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: x.dcStatus, EVSEProcessing: iso2Processing(d.Outcome == Ongoing)}
		b.CableCheckRes = &x.cc
	case iso2.KindPreChargeReq:
		x.pc = iso2.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: x.dcStatus, EVSEPresentVoltage: iso2PV(d.PresentVoltageV, iso2.UnitSymbolV)}
		b.PreChargeRes = &x.pc
	case iso2.KindPowerDeliveryReq:
		ac, dc := x.status(p.AC)
		x.pd = iso2.PowerDeliveryResType{ResponseCode: ok, AC_EVSEStatus: ac, DC_EVSEStatus: dc}
		b.PowerDeliveryRes = &x.pd
	case iso2.KindChargingStatusReq:
		x.maxI = iso2PV(32, iso2.UnitSymbolA)
		x.cs = iso2.ChargingStatusResType{ResponseCode: ok, EVSEID: a.evseID, SAScheduleTupleID: 1, EVSEMaxCurrent: &x.maxI, AC_EVSEStatus: x.acStatus}
		b.ChargingStatusRes = &x.cs
	case iso2.KindMeteringReceiptReq:
		ac, dc := x.status(p.AC)
		x.mr = iso2.MeteringReceiptResType{ResponseCode: ok, AC_EVSEStatus: ac, DC_EVSEStatus: dc}
		b.MeteringReceiptRes = &x.mr
	case iso2.KindCurrentDemandReq:
		x.limits = [3]iso2.PhysicalValueType{iso2PV(lim.MaxVoltageV, iso2.UnitSymbolV), iso2PV(lim.MaxCurrentA, iso2.UnitSymbolA), iso2PV(lim.MaxPowerW, iso2.UnitSymbolW)}
		x.cd = iso2.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            x.dcStatus,
			EVSEPresentVoltage:       iso2PV(d.PresentVoltageV, iso2.UnitSymbolV),
			EVSEPresentCurrent:       iso2PV(d.PresentCurrentA, iso2.UnitSymbolA),
			EVSECurrentLimitAchieved: d.CurrentLimitAchieved,
			EVSEMaximumVoltageLimit:  &x.limits[0],
			EVSEMaximumCurrentLimit:  &x.limits[1],
			EVSEMaximumPowerLimit:    &x.limits[2],
			EVSEID:                   a.evseID,
			SAScheduleTupleID:        1,
		}
		b.CurrentDemandRes = &x.cd
	case iso2.KindWeldingDetectionReq:
		x.wd = iso2.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: x.dcStatus, EVSEPresentVoltage: iso2PV(d.PresentVoltageV, iso2.UnitSymbolV)}
		b.WeldingDetectionRes = &x.wd
	case iso2.KindSessionStopReq:
		x.ss = iso2.SessionStopResType{ResponseCode: ok}
		b.SessionStopRes = &x.ss
	default:
		out, code, _, err := a.failed(dst, codeFailed, sid)
		return out, code, err
	}
	return a.encode(dst, &b, sid)
}

// chargeParameterDiscovery answers the car's battery values into
// a.ans.cpd. Ongoing comes without a schedule (a schedule comes with
// Finished only); a wrong energy transfer is answered with the parameters
// of the one the charger serves.
func (a *iso2Adapter) chargeParameterDiscovery(r *Request, d *Decision) {
	x := &a.ans
	c, ongoing, shutdown := cpdForm(d.Outcome)
	x.cpd = iso2.ChargeParameterDiscoveryResType{ResponseCode: iso2Codes[c], EVSEProcessing: iso2Processing(ongoing), SAScheduleList: a.schedule}
	if ongoing {
		x.cpd.SAScheduleList = nil
	}
	status := iso2.DC_EVSEStatusCodeEVSE_Ready
	if shutdown || d.Outcome == WrongEnergy {
		status = iso2.DC_EVSEStatusCodeEVSE_Shutdown
	}
	if (r.Energy == EnergyAC) != (d.Outcome == WrongEnergy) {
		x.acp = iso2.AC_EVSEChargeParameterType{AC_EVSEStatus: x.acStatus,
			EVSENominalVoltage: iso2PV(230, iso2.UnitSymbolV), EVSEMaxCurrent: iso2PV(32, iso2.UnitSymbolA)}
		x.cpd.AC_EVSEChargeParameter = &x.acp
		return
	}
	l := &a.cfg.Limits
	x.dcp = iso2.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           iso2DCStatus(status, iso2.IsolationLevelInvalid),
		EVSEMaximumCurrentLimit: iso2PV(l.MaxCurrentA, iso2.UnitSymbolA),
		EVSEMaximumPowerLimit:   iso2PV(l.MaxPowerW, iso2.UnitSymbolW),
		EVSEMaximumVoltageLimit: iso2PV(l.MaxVoltageV, iso2.UnitSymbolV),
		EVSEMinimumCurrentLimit: iso2PV(l.MinCurrentA, iso2.UnitSymbolA),
		EVSEMinimumVoltageLimit: iso2PV(l.MinVoltageV, iso2.UnitSymbolV),
		EVSEPeakCurrentRipple:   iso2PV(l.PeakCurrentRippleA, iso2.UnitSymbolA),
	}
	x.cpd.DC_EVSEChargeParameter = &x.dcp
}

// Read-only parts the answers point to, so that an answer needs no memory of its own.
var (
	iso2ExternalPayment = []iso2.PaymentOptionType{iso2.PaymentOptionExternalPayment}
	iso2DCModes         = []iso2.EnergyTransferModeType{iso2.EnergyTransferModeDC_extended}
	iso2ACModes         = []iso2.EnergyTransferModeType{iso2.EnergyTransferModeAC_three_phase_core, iso2.EnergyTransferModeAC_single_phase_core}
	iso2Isolations      = [...]iso2.IsolationLevelType{iso2.IsolationLevelInvalid, iso2.IsolationLevelValid, iso2.IsolationLevelWarning, iso2.IsolationLevelFault}
)

func iso2Processing(ongoing bool) iso2.EVSEProcessingType {
	if ongoing {
		return iso2.EVSEProcessingOngoing
	}
	return iso2.EVSEProcessingFinished
}

func iso2DCStatus(code iso2.DC_EVSEStatusCodeType, iso iso2.IsolationLevelType) iso2.DC_EVSEStatusType {
	return iso2.DC_EVSEStatusType{EVSEIsolationStatus: &iso2Isolations[iso], EVSEStatusCode: code, EVSENotification: iso2.EVSENotificationNone}
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
	return acValues(opt{iso2Value(p.EAmount), true}, opt{iso2Value(p.EVMaxVoltage), true}, opt{iso2Value(p.EVMaxCurrent), true})
}

func iso2CPDValues(p *iso2.DC_EVChargeParameterType) record.Values {
	return dcValues(int(p.DC_EVStatus.EVRESSSOC), iso2Value(p.EVMaximumVoltageLimit), iso2Value(p.EVMaximumCurrentLimit),
		iso2Opt(p.EVMaximumPowerLimit), iso2Opt(p.EVEnergyCapacity), iso2Opt(p.EVEnergyRequest), p.FullSOC, p.BulkSOC)
}

func iso2Opt(p *iso2.PhysicalValueType) opt { return optOf(p, iso2Value) }

func iso2Value(p iso2.PhysicalValueType) float64 { return scaled(int(p.Value), int(p.Multiplier)) }

func iso2PV(v float64, unit iso2.UnitSymbolType) iso2.PhysicalValueType {
	val, mul := physical(v)
	return iso2.PhysicalValueType{Value: val, Multiplier: mul, Unit: unit}
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
