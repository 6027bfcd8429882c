package evcc

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// A scripted charger for the tests: it answers the car's requests over one
// end of a net.Pipe with responses built by the codecs.

var chargerSID = []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}

type charger struct {
	namespace string // protocol to choose in the handshake
	sid       []byte // SessionID to hand out; nil = chargerSID
	din       func(req *din.BodyType) *din.BodyType
	iso       func(req *iso2.BodyType) *iso2.BodyType
	// silent reads requests without answering; got receives each one.
	silent bool
	got    chan struct{}
	// closeAfter closes the connection after answering that many messages (0 = never).
	closeAfter int
	// raw, when set, is written as the answer to the handshake instead.
	raw []byte

	// With clk, time is fake: each answer costs latency, and with think
	// the charger moves the clock on by the car's think time once the car
	// waits for it (until carDone is closed). stall, if it returns true
	// for a request's name, leaves that request unanswered.
	clk     *clock.Fake
	latency time.Duration
	think   time.Duration
	carDone <-chan struct{}
	stall   func(kind string) bool
}

// seen is what the charger received and sent.
type seen struct {
	payloads [][]byte // EXI payloads of the car's requests, in order
	kinds    []string
	sent     []byte // the charger's whole output stream
}

// start runs the charger on one end of a pipe and returns the car's end
// and a channel that yields what the charger saw once the car's end is
// closed.
func (c charger) start(t testing.TB) (net.Conn, <-chan seen) {
	t.Helper()
	car, evse := net.Pipe()
	done := make(chan seen, 1)
	sid := c.sid
	if sid == nil {
		sid = chargerSID
	}
	go func() {
		defer evse.Close()
		var sn seen
		defer func() { done <- sn }()
		rd := v2gtp.NewReader(evse)
		proto := ""
		for n := 1; ; n++ {
			_, p, err := rd.Next()
			if err != nil {
				return
			}
			sn.payloads = append(sn.payloads, bytes.Clone(p))
			if c.got != nil {
				c.got <- struct{}{}
			}
			if c.silent {
				continue
			}
			var out []byte
			switch {
			case proto == "" && c.raw != nil:
				out = c.raw
			case proto == "":
				var doc apphand.Document
				if _, err := apphand.Unmarshal(p, &doc); err != nil || doc.SupportedAppProtocolReq == nil {
					t.Errorf("charger: first message is no SupportedAppProtocolReq: %v", err)
					return
				}
				sn.kinds = append(sn.kinds, "supportedAppProtocolReq")
				res := apphand.SupportedAppProtocolRes{ResponseCode: apphand.ResponseCodeFailed_NoNegotiation}
				for _, ap := range doc.SupportedAppProtocolReq.AppProtocol {
					if ap.ProtocolNamespace == c.namespace {
						id := ap.SchemaID
						res = apphand.SupportedAppProtocolRes{ResponseCode: apphand.ResponseCodeOK_SuccessfulNegotiation, SchemaID: &id}
						proto = c.namespace
					}
				}
				out, err = apphand.Marshal(&apphand.Document{SupportedAppProtocolRes: &res})
				if err != nil {
					t.Errorf("charger: %v", err)
					return
				}
			case proto == NamespaceDIN, proto == NamespaceTesla:
				var doc din.Document
				if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message == nil {
					t.Errorf("charger: DIN request does not decode: %v", err)
					return
				}
				kind := doc.V2G_Message.Body.Kind().String()
				sn.kinds = append(sn.kinds, kind)
				if c.stall != nil && c.stall(kind) {
					continue
				}
				body := c.din(&doc.V2G_Message.Body)
				if body == nil {
					return
				}
				out, err = din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: *body}})
				if err != nil {
					t.Errorf("charger: %v", err)
					return
				}
			case proto == NamespaceISO2:
				var doc iso2.Document
				if _, err := iso2.Unmarshal(p, &doc); err != nil || doc.V2G_Message == nil {
					t.Errorf("charger: ISO-2 request does not decode: %v", err)
					return
				}
				kind := doc.V2G_Message.Body.Kind().String()
				sn.kinds = append(sn.kinds, kind)
				if c.stall != nil && c.stall(kind) {
					continue
				}
				body := c.iso(&doc.V2G_Message.Body)
				if body == nil {
					return
				}
				out, err = iso2.Marshal(&iso2.Document{V2G_Message: &iso2.V2G_Message{Header: iso2.MessageHeaderType{SessionID: sid}, Body: *body}})
				if err != nil {
					t.Errorf("charger: %v", err)
					return
				}
			default:
				return // no protocol agreed: the car must not go on
			}
			frame := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, out)
			sn.sent = append(sn.sent, frame...)
			created := 0
			if c.clk != nil {
				c.clk.Advance(c.latency)
				created = c.clk.Created() // before the car can read the answer
			}
			if _, err := evse.Write(frame); err != nil {
				return
			}
			if c.think > 0 {
				// The car's next timer is its think time.
				c.clk.WaitCreated(created, c.carDone)
				if c.clk.Created() > created {
					c.clk.Advance(c.think)
				}
			}
			if c.closeAfter > 0 && n >= c.closeAfter {
				return
			}
		}
	}()
	return car, done
}

// finishRun closes the car's end and returns what the charger saw.
func finishRun(car net.Conn, done <-chan seen) seen {
	car.Close()
	return <-done
}

func dinStatus(code din.DC_EVSEStatusCodeType) din.DC_EVSEStatusType {
	iso := din.IsolationLevelValid
	return din.DC_EVSEStatusType{EVSEIsolationStatus: &iso, EVSEStatusCode: code}
}

func dinV(v int16, mult int8, u din.UnitSymbolType) din.PhysicalValueType {
	return din.PhysicalValueType{Multiplier: mult, Unit: &u, Value: v}
}

// dinPolicy answers DIN requests as a DC charger. soc: the SoC harvest of
// v2g.md (Ongoing, then EVSE_Shutdown + Ongoing, FAILED after 10 rounds or
// when the car moves on); otherwise a full emulated DC session.
func dinPolicy(soc bool) func(*din.BodyType) *din.BodyType {
	cpd := 0
	cableChecks := 0
	var target din.PhysicalValueType
	return func(req *din.BodyType) *din.BodyType {
		var b din.BodyType
		ok := din.ResponseCodeOK
		switch {
		case req.SessionSetupReq != nil:
			b.SessionSetupRes = &din.SessionSetupResType{ResponseCode: din.ResponseCodeOK_NewSessionEstablished, EVSEID: []byte{0}}
		case req.ServiceDiscoveryReq != nil:
			b.ServiceDiscoveryRes = &din.ServiceDiscoveryResType{
				PaymentOptions: din.PaymentOptionsType{PaymentOption: []din.PaymentOptionType{din.PaymentOptionExternalPayment}},
				ChargeService: din.ServiceChargeType{ServiceTag: din.ServiceTagType{ServiceID: 1, ServiceCategory: din.ServiceCategoryEVCharging},
					FreeService: true, EnergyTransferType: din.EVSESupportedEnergyTransferDC_extended},
			}
		case req.ServicePaymentSelectionReq != nil:
			b.ServicePaymentSelectionRes = &din.ServicePaymentSelectionResType{}
		case req.ContractAuthenticationReq != nil:
			b.ContractAuthenticationRes = &din.ContractAuthenticationResType{EVSEProcessing: din.EVSEProcessingFinished}
		case req.ChargeParameterDiscoveryReq != nil:
			cpd++
			r := &din.ChargeParameterDiscoveryResType{EVSEProcessing: din.EVSEProcessingFinished,
				SAScheduleList: &din.SAScheduleListType{SAScheduleTuple: []din.SAScheduleTupleType{{SAScheduleTupleID: 1,
					PMaxSchedule: din.PMaxScheduleType{PMaxScheduleID: 1, PMaxScheduleEntry: []din.PMaxScheduleEntryType{{
						RelativeTimeInterval: &din.RelativeTimeIntervalType{}, PMax: 11000}}}}}},
				DC_EVSEChargeParameter: &din.DC_EVSEChargeParameterType{
					DC_EVSEStatus:           dinStatus(din.DC_EVSEStatusCodeEVSE_Ready),
					EVSEMaximumCurrentLimit: dinV(400, 0, din.UnitSymbolA),
					EVSEMaximumVoltageLimit: dinV(400, 0, din.UnitSymbolV),
					EVSEMinimumCurrentLimit: dinV(0, 0, din.UnitSymbolA),
					EVSEMinimumVoltageLimit: dinV(0, 0, din.UnitSymbolV),
					EVSEPeakCurrentRipple:   dinV(1, 0, din.UnitSymbolA),
				}}
			if soc {
				r.EVSEProcessing = din.EVSEProcessingOngoing
				switch {
				case cpd > 10:
					r.ResponseCode, r.EVSEProcessing = din.ResponseCodeFAILED, din.EVSEProcessingFinished
				case cpd > 1:
					r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode = din.DC_EVSEStatusCodeEVSE_Shutdown
				}
			}
			b.ChargeParameterDiscoveryRes = r
		case req.SessionStopReq != nil:
			b.SessionStopRes = &din.SessionStopResType{}
		case soc:
			ok = din.ResponseCodeFAILED
			fallthrough
		default:
			b = dinDC(req, ok, &cableChecks, &target)
		}
		return &b
	}
}

// dinDC answers the DC charging loop; code is the response code to use.
func dinDC(req *din.BodyType, code din.ResponseCodeType, cableChecks *int, target *din.PhysicalValueType) din.BodyType {
	var b din.BodyType
	ready := dinStatus(din.DC_EVSEStatusCodeEVSE_Ready)
	switch {
	case req.CableCheckReq != nil:
		*cableChecks++
		proc := din.EVSEProcessingOngoing
		if *cableChecks > 1 {
			proc = din.EVSEProcessingFinished
		}
		b.CableCheckRes = &din.CableCheckResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEProcessing: proc}
	case req.PreChargeReq != nil:
		// The first answer is still at 0 V; then at the target.
		present := dinV(0, 0, din.UnitSymbolV)
		if target.Unit != nil {
			present = req.PreChargeReq.EVTargetVoltage
		}
		*target = req.PreChargeReq.EVTargetVoltage
		b.PreChargeRes = &din.PreChargeResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEPresentVoltage: present}
	case req.PowerDeliveryReq != nil:
		b.PowerDeliveryRes = &din.PowerDeliveryResType{ResponseCode: code, DC_EVSEStatus: &ready}
	case req.CurrentDemandReq != nil:
		r := req.CurrentDemandReq
		b.CurrentDemandRes = &din.CurrentDemandResType{ResponseCode: code, DC_EVSEStatus: ready,
			EVSEPresentVoltage: r.EVTargetVoltage, EVSEPresentCurrent: r.EVTargetCurrent}
	case req.WeldingDetectionReq != nil:
		b.WeldingDetectionRes = &din.WeldingDetectionResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEPresentVoltage: dinV(0, 0, din.UnitSymbolV)}
	}
	return b
}

func isoStatus(code iso2.DC_EVSEStatusCodeType) iso2.DC_EVSEStatusType {
	return iso2.DC_EVSEStatusType{EVSEStatusCode: code}
}

func isoV(v int16, mult int8, u iso2.UnitSymbolType) iso2.PhysicalValueType {
	return iso2.PhysicalValueType{Multiplier: mult, Unit: u, Value: v}
}

// isoPolicy answers ISO-2 requests: "soc" and "dc" as dinPolicy, "ac" a
// full AC session.
func isoPolicy(policy string) func(*iso2.BodyType) *iso2.BodyType {
	cpd, cableChecks, preCharges := 0, 0, 0
	return func(req *iso2.BodyType) *iso2.BodyType {
		var b iso2.BodyType
		code := iso2.ResponseCodeOK
		ready := isoStatus(iso2.DC_EVSEStatusCodeEVSE_Ready)
		switch {
		case req.SessionSetupReq != nil:
			b.SessionSetupRes = &iso2.SessionSetupResType{ResponseCode: iso2.ResponseCodeOK_NewSessionEstablished, EVSEID: "ZZ00000"}
		case req.ServiceDiscoveryReq != nil:
			modes := []iso2.EnergyTransferModeType{iso2.EnergyTransferModeDC_extended}
			if policy == "ac" { // as EVerest offers AC
				modes = []iso2.EnergyTransferModeType{iso2.EnergyTransferModeAC_three_phase_core, iso2.EnergyTransferModeAC_single_phase_core}
			}
			b.ServiceDiscoveryRes = &iso2.ServiceDiscoveryResType{
				PaymentOptionList: iso2.PaymentOptionListType{PaymentOption: []iso2.PaymentOptionType{iso2.PaymentOptionExternalPayment}},
				ChargeService: iso2.ChargeServiceType{ServiceID: 1, ServiceCategory: iso2.ServiceCategoryEVCharging, FreeService: true,
					SupportedEnergyTransferMode: iso2.SupportedEnergyTransferModeType{EnergyTransferMode: modes}},
			}
		case req.PaymentServiceSelectionReq != nil:
			b.PaymentServiceSelectionRes = &iso2.PaymentServiceSelectionResType{}
		case req.AuthorizationReq != nil:
			b.AuthorizationRes = &iso2.AuthorizationResType{EVSEProcessing: iso2.EVSEProcessingFinished}
		case req.ChargeParameterDiscoveryReq != nil:
			cpd++
			r := &iso2.ChargeParameterDiscoveryResType{EVSEProcessing: iso2.EVSEProcessingFinished,
				SAScheduleList: &iso2.SAScheduleListType{SAScheduleTuple: []iso2.SAScheduleTupleType{{SAScheduleTupleID: 7,
					PMaxSchedule: iso2.PMaxScheduleType{PMaxScheduleEntry: []iso2.PMaxScheduleEntryType{{
						RelativeTimeInterval: &iso2.RelativeTimeIntervalType{}, PMax: isoV(11000, 0, iso2.UnitSymbolW)}}}}}}}
			if policy == "ac" {
				r.AC_EVSEChargeParameter = &iso2.AC_EVSEChargeParameterType{
					EVSENominalVoltage: isoV(230, 0, iso2.UnitSymbolV), EVSEMaxCurrent: isoV(16, 0, iso2.UnitSymbolA)}
			} else {
				r.DC_EVSEChargeParameter = &iso2.DC_EVSEChargeParameterType{
					DC_EVSEStatus:           ready,
					EVSEMaximumCurrentLimit: isoV(400, 0, iso2.UnitSymbolA),
					EVSEMaximumPowerLimit:   isoV(160, 3, iso2.UnitSymbolW),
					EVSEMaximumVoltageLimit: isoV(400, 0, iso2.UnitSymbolV),
					EVSEMinimumCurrentLimit: isoV(0, 0, iso2.UnitSymbolA),
					EVSEMinimumVoltageLimit: isoV(0, 0, iso2.UnitSymbolV),
					EVSEPeakCurrentRipple:   isoV(1, 0, iso2.UnitSymbolA),
				}
			}
			if policy == "soc" {
				r.EVSEProcessing = iso2.EVSEProcessingOngoing
				switch {
				case cpd > 10:
					r.ResponseCode, r.EVSEProcessing = iso2.ResponseCodeFAILED, iso2.EVSEProcessingFinished
				case cpd > 1:
					r.DC_EVSEChargeParameter.DC_EVSEStatus.EVSEStatusCode = iso2.DC_EVSEStatusCodeEVSE_Shutdown
				}
			}
			b.ChargeParameterDiscoveryRes = r
		case req.SessionStopReq != nil:
			b.SessionStopRes = &iso2.SessionStopResType{}
		default:
			if policy == "soc" {
				code = iso2.ResponseCodeFAILED
			}
			switch {
			case req.CableCheckReq != nil:
				cableChecks++
				proc := iso2.EVSEProcessingOngoing
				if cableChecks > 1 {
					proc = iso2.EVSEProcessingFinished
				}
				b.CableCheckRes = &iso2.CableCheckResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEProcessing: proc}
			case req.PreChargeReq != nil:
				preCharges++
				present := isoV(0, 0, iso2.UnitSymbolV)
				if preCharges > 1 {
					present = req.PreChargeReq.EVTargetVoltage
				}
				b.PreChargeRes = &iso2.PreChargeResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEPresentVoltage: present}
			case req.PowerDeliveryReq != nil:
				r := &iso2.PowerDeliveryResType{ResponseCode: code}
				if policy == "ac" {
					r.AC_EVSEStatus = &iso2.AC_EVSEStatusType{}
				} else {
					r.DC_EVSEStatus = &ready
				}
				b.PowerDeliveryRes = r
			case req.CurrentDemandReq != nil:
				r := req.CurrentDemandReq
				b.CurrentDemandRes = &iso2.CurrentDemandResType{ResponseCode: code, DC_EVSEStatus: ready,
					EVSEPresentVoltage: r.EVTargetVoltage, EVSEPresentCurrent: r.EVTargetCurrent, EVSEID: "ZZ00000", SAScheduleTupleID: 7}
			case req.ChargingStatusReq != nil:
				b.ChargingStatusRes = &iso2.ChargingStatusResType{ResponseCode: code, EVSEID: "ZZ00000", SAScheduleTupleID: 7}
			case req.WeldingDetectionReq != nil:
				b.WeldingDetectionRes = &iso2.WeldingDetectionResType{ResponseCode: code, DC_EVSEStatus: ready, EVSEPresentVoltage: isoV(0, 0, iso2.UnitSymbolV)}
			}
		}
		return &b
	}
}

// pipeReadWriter hides the deadlines of a conn (a plain io.ReadWriter).
type pipeReadWriter struct {
	io.Reader
	io.Writer
}
