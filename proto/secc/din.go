package secc

import (
	"encoding/hex"
	"math"
	"sync"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/record"
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
var dinPhases = phaseTable(din.NumMessageKinds, map[din.MessageKind]Phase{
	din.KindSessionSetupReq: PhaseSessionSetup, din.KindServiceDiscoveryReq: PhaseServiceDiscovery,
	din.KindServiceDetailReq: PhaseServiceDetail, din.KindServicePaymentSelectionReq: PhasePaymentSelection,
	din.KindPaymentDetailsReq: PhasePaymentDetails, din.KindContractAuthenticationReq: PhaseAuthorization,
	din.KindChargeParameterDiscoveryReq: PhaseChargeParameterDiscovery, din.KindPowerDeliveryReq: PhasePowerDelivery,
	din.KindChargingStatusReq: PhaseChargeLoop, din.KindMeteringReceiptReq: PhaseMeteringReceipt,
	din.KindCertificateUpdateReq: PhaseCertificate, din.KindCertificateInstallationReq: PhaseCertificate,
	din.KindCableCheckReq: PhaseCableCheck, din.KindPreChargeReq: PhasePreCharge, din.KindCurrentDemandReq: PhaseChargeLoop,
	din.KindWeldingDetectionReq: PhaseWeldingDetection, din.KindSessionStopReq: PhaseSessionStop,
})

// dinAdapter is DIN 70121's side of the charger's session.
type dinAdapter struct {
	cfg  *Config
	kind din.MessageKind
	// dec decodes the car's requests into memory it reuses: req, valid
	// until the next request, is never kept (values are copied out).
	dec din.Decoder
	req *din.Document
	// The answer is built in memory the adapter keeps (ans) and encoded
	// at once, so that answering allocates nothing; res holds msg.
	res din.Document
	msg din.V2G_Message
	ans dinAnswers
	// evseID and schedule, made of cfg
	made[[]byte, *din.SAScheduleListType]
}

// dinAnswers holds the answers' parts for reuse.
type dinAnswers struct {
	now    int64
	setup  din.SessionSetupResType
	sd     din.ServiceDiscoveryResType
	sps    din.ServicePaymentSelectionResType
	ca     din.ContractAuthenticationResType
	cpd    din.ChargeParameterDiscoveryResType
	cp     din.DC_EVSEChargeParameterType
	maxP   din.PhysicalValueType
	cc     din.CableCheckResType
	pc     din.PreChargeResType
	pd     din.PowerDeliveryResType
	status din.DC_EVSEStatusType
	cd     din.CurrentDemandResType
	limits [3]din.PhysicalValueType
	wd     din.WeldingDetectionResType
	ss     din.SessionStopResType
}

func newDINAdapter(cfg *Config) *dinAdapter {
	a := pooled(&dinAdapters, func(a *dinAdapter) { a.res.V2G_Message = &a.msg })
	a.cfg, a.kind, a.req = cfg, din.KindNone, nil
	a.made.of(cfg, dinEVSEID, dinSchedule)
	return a
}

// dinAdapters holds the adapters of ended sessions for the next ones: an
// adapter's decoder and answers are most of a session's memory.
var dinAdapters sync.Pool

func (a *dinAdapter) release() {
	a.cfg, a.req, a.msg = nil, nil, din.V2G_Message{}
	dinAdapters.Put(a)
}

func (a *dinAdapter) protocol() Protocol        { return ProtocolDIN }
func (a *dinAdapter) allowed(st state) bool     { return dinAllowed[st][a.kind] }
func (a *dinAdapter) stateName(st state) string { return dinStateNames[st] }

func (a *dinAdapter) decode(payload []byte, r *Request) error {
	var err error
	var b *din.BodyType
	a.req, _, err = a.dec.Decode(payload)
	if b, a.kind, err = decoded[*din.Document](r, a.req, err, dinPhases, "a DIN"); err != nil || !r.request {
		return err
	}
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
	case din.KindPowerDeliveryReq:
		r.ReadyToCharge = b.PowerDeliveryReq.ReadyToChargeState
	}
	targets(r, b.EVTargetVoltage(), b.EVTargetCurrent(), dinValue)
	if st := b.DC_EVStatus(); st != nil {
		r.dcStatus(st.EVRESSSOC)
	}
	// DIN's ChargingStatusReq (AC, which DIN does not have) is only ever out of sequence.
	r.MovesOn = movesOn(r) && a.kind != din.KindChargingStatusReq
	return nil
}

func (a *dinAdapter) encode(dst []byte, body *din.BodyType, sid []byte) ([]byte, string, error) {
	a.msg = din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: *body}
	rc, _ := a.msg.Body.ResponseCode()
	out, err := din.Append(dst, &a.res)
	return out, rc.String(), err
}

// dinCodes are the model's codes in DIN's words.
var dinCodes = [numCodes]din.ResponseCodeType{codeOK: din.ResponseCodeOK, codeFailed: din.ResponseCodeFAILED,
	codeUnknownSession: din.ResponseCodeFAILED_UnknownSession, codeSequence: din.ResponseCodeFAILED_SequenceError,
	codeWrongEnergy: din.ResponseCodeFAILED_WrongEnergyTransferType}

func (a *dinAdapter) failed(dst []byte, c code, sid []byte) ([]byte, string, bool, error) {
	body := dinFailed(a.kind, dinCodes[c])
	if body == nil {
		return dst, "", false, nil
	}
	out, code, err := a.encode(dst, body, sid)
	return out, code, true, err
}

// answer encodes the answer of an allowed request.
func (a *dinAdapter) answer(dst []byte, p *Progress, r *Request, d *Decision, sid []byte) ([]byte, string, error) {
	ok := din.ResponseCodeOK
	lim := &a.cfg.Limits
	x := &a.ans
	x.status = dinStatus(din.DC_EVSEStatusCodeEVSE_Ready, din.IsolationLevelValid)
	var b din.BodyType
	switch a.kind {
	case din.KindSessionSetupReq:
		ok = din.ResponseCodeOK_NewSessionEstablished
		if p.Joined {
			ok = din.ResponseCodeOK_OldSessionJoined
		}
		x.now = p.Now.Unix()
		x.setup = din.SessionSetupResType{ResponseCode: ok, EVSEID: a.evseID, DateTimeNow: &x.now}
		b.SessionSetupRes = &x.setup
	case din.KindServiceDiscoveryReq:
		x.sd = din.ServiceDiscoveryResType{
			ResponseCode:   ok,
			PaymentOptions: din.PaymentOptionsType{PaymentOption: dinExternalPayment},
			ChargeService: din.ServiceChargeType{
				ServiceTag:         din.ServiceTagType{ServiceID: 1, ServiceCategory: din.ServiceCategoryEVCharging},
				FreeService:        true,
				EnergyTransferType: din.EVSESupportedEnergyTransferDC_extended,
			},
		}
		b.ServiceDiscoveryRes = &x.sd
	case din.KindServicePaymentSelectionReq:
		x.sps = din.ServicePaymentSelectionResType{ResponseCode: ok}
		b.ServicePaymentSelectionRes = &x.sps
	case din.KindContractAuthenticationReq:
		x.ca = din.ContractAuthenticationResType{ResponseCode: ok, EVSEProcessing: din.EVSEProcessingFinished}
		b.ContractAuthenticationRes = &x.ca
	case din.KindChargeParameterDiscoveryReq:
		a.chargeParameterDiscovery(d)
		b.ChargeParameterDiscoveryRes = &x.cpd
	case din.KindCableCheckReq:
		x.cc = din.CableCheckResType{ResponseCode: ok, DC_EVSEStatus: x.status, EVSEProcessing: dinProcessing(d.Outcome == Ongoing)}
		b.CableCheckRes = &x.cc
	case din.KindPreChargeReq:
		x.pc = din.PreChargeResType{ResponseCode: ok, DC_EVSEStatus: x.status, EVSEPresentVoltage: dinPV(d.PresentVoltageV, din.UnitSymbolV)}
		b.PreChargeRes = &x.pc
	case din.KindPowerDeliveryReq:
		x.pd = din.PowerDeliveryResType{ResponseCode: ok, DC_EVSEStatus: &x.status}
		b.PowerDeliveryRes = &x.pd
	case din.KindCurrentDemandReq:
		x.limits = [3]din.PhysicalValueType{dinPV(lim.MaxVoltageV, din.UnitSymbolV), dinPV(lim.MaxCurrentA, din.UnitSymbolA), dinPV(lim.MaxPowerW, din.UnitSymbolW)}
		x.cd = din.CurrentDemandResType{
			ResponseCode:             ok,
			DC_EVSEStatus:            x.status,
			EVSEPresentVoltage:       dinPV(d.PresentVoltageV, din.UnitSymbolV),
			EVSEPresentCurrent:       dinPV(d.PresentCurrentA, din.UnitSymbolA),
			EVSECurrentLimitAchieved: d.CurrentLimitAchieved,
			EVSEMaximumVoltageLimit:  &x.limits[0],
			EVSEMaximumCurrentLimit:  &x.limits[1],
			EVSEMaximumPowerLimit:    &x.limits[2],
		}
		b.CurrentDemandRes = &x.cd
	case din.KindWeldingDetectionReq:
		x.wd = din.WeldingDetectionResType{ResponseCode: ok, DC_EVSEStatus: x.status, EVSEPresentVoltage: dinPV(d.PresentVoltageV, din.UnitSymbolV)}
		b.WeldingDetectionRes = &x.wd
	case din.KindSessionStopReq:
		x.ss = din.SessionStopResType{ResponseCode: ok}
		b.SessionStopRes = &x.ss
	default:
		out, code, _, err := a.failed(dst, codeFailed, sid)
		return out, code, err
	}
	return a.encode(dst, &b, sid)
}

// chargeParameterDiscovery answers the car's battery values into a.ans.cpd:
// Ongoing, EVSE_Shutdown and FAILED keep the charger's limits and schedule.
func (a *dinAdapter) chargeParameterDiscovery(d *Decision) {
	x := &a.ans
	c, ongoing, shutdown := cpdForm(d.Outcome)
	x.cpd = din.ChargeParameterDiscoveryResType{ResponseCode: dinCodes[c], EVSEProcessing: dinProcessing(ongoing), SAScheduleList: a.schedule}
	status := din.DC_EVSEStatusCodeEVSE_Ready
	if shutdown {
		status = din.DC_EVSEStatusCodeEVSE_Shutdown
	}
	l := &a.cfg.Limits
	x.maxP = dinPV(l.MaxPowerW, din.UnitSymbolW)
	x.cp = din.DC_EVSEChargeParameterType{
		DC_EVSEStatus:           dinStatus(status, din.IsolationLevelInvalid),
		EVSEMaximumCurrentLimit: dinPV(l.MaxCurrentA, din.UnitSymbolA),
		EVSEMaximumPowerLimit:   &x.maxP,
		EVSEMaximumVoltageLimit: dinPV(l.MaxVoltageV, din.UnitSymbolV),
		EVSEMinimumCurrentLimit: dinPV(l.MinCurrentA, din.UnitSymbolA),
		EVSEMinimumVoltageLimit: dinPV(l.MinVoltageV, din.UnitSymbolV),
		EVSEPeakCurrentRipple:   dinPV(l.PeakCurrentRippleA, din.UnitSymbolA),
	}
	x.cpd.DC_EVSEChargeParameter = &x.cp
}

var dinExternalPayment = []din.PaymentOptionType{din.PaymentOptionExternalPayment}

// dinUnits and dinIsolations are what the answers' optional enumerations
// point to: read only, so that an answer needs no memory of its own.
var (
	dinUnits      = [...]din.UnitSymbolType{din.UnitSymbolH, din.UnitSymbolM, din.UnitSymbolS, din.UnitSymbolA, din.UnitSymbolAh, din.UnitSymbolV, din.UnitSymbolVA, din.UnitSymbolW, din.UnitSymbolW_s, din.UnitSymbolWh}
	dinIsolations = [...]din.IsolationLevelType{din.IsolationLevelInvalid, din.IsolationLevelValid, din.IsolationLevelWarning, din.IsolationLevelFault}
)

func dinProcessing(ongoing bool) din.EVSEProcessingType {
	if ongoing {
		return din.EVSEProcessingOngoing
	}
	return din.EVSEProcessingFinished
}

func dinStatus(code din.DC_EVSEStatusCodeType, iso din.IsolationLevelType) din.DC_EVSEStatusType {
	return din.DC_EVSEStatusType{EVSEIsolationStatus: &dinIsolations[iso], EVSEStatusCode: code, EVSENotification: din.EVSENotificationNone}
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
		return acValues(opt{dinValue(p.EAmount), true}, opt{}, opt{})
	}
	return record.Values{}
}

func dinCPDValues(p *din.DC_EVChargeParameterType) record.Values {
	return dcValues(int(p.DC_EVStatus.EVRESSSOC), dinValue(p.EVMaximumVoltageLimit), dinValue(p.EVMaximumCurrentLimit),
		dinOpt(p.EVMaximumPowerLimit), dinOpt(p.EVEnergyCapacity), dinOpt(p.EVEnergyRequest), p.FullSOC, p.BulkSOC)
}

func dinOpt(p *din.PhysicalValueType) opt { return optOf(p, dinValue) }

// dinValue applies the multiplier: Value x 10^Multiplier.
func dinValue(p din.PhysicalValueType) float64 { return scaled(int(p.Value), int(p.Multiplier)) }

func dinPV(v float64, unit din.UnitSymbolType) din.PhysicalValueType {
	val, mul := physical(v)
	return din.PhysicalValueType{Value: val, Multiplier: mul, Unit: &dinUnits[unit]}
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
