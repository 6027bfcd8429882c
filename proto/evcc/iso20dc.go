package evcc

import (
	"fmt"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// NamespaceISO20DC is what a car offers for ISO 15118-20 DC.
const NamespaceISO20DC = message.NamespaceISO20DC

func iso20DCProto(schemaID, prio uint8) apphand.AppProtocolType {
	return apphand.AppProtocolType{ProtocolNamespace: NamespaceISO20DC, VersionNumberMajor: 1, SchemaID: schemaID, Priority: prio}
}

// ISO20DC holds what a car sends in ISO 15118-20 DC (EIM, dynamic mode or,
// with Profile.ISO20Scheduled, scheduled mode).
// The loop's PresentSOC starts at Profile.SoC and rises by SoCStep per
// DC_ChargeLoopReq; BatteryEnergyCapacity is Profile.Capacity.
type ISO20DC struct {
	MaxPower               Physical // W
	MaxCurrent             Physical // A
	MaxVoltage, MinVoltage Physical // V
	// Voltage is the battery's: the precharge target and the loop's
	// EVPresentVoltage.
	Voltage       Physical
	TargetSOC     int      // percent; -1 = not sent
	EnergyRequest Physical // Wh, EVTargetEnergyRequest
	SoCStep       int      // percent per loop
}

// iso20ServiceDC is ISO-20's ServiceID of DC charging.
const iso20ServiceDC = 2

// runISO20DC plays ISO 15118-20 DC after the handshake: EIM, the DC
// service in the profile's control mode, the cable check, the precharge to the
// battery's voltage, the charge loop with the profile's
// DisplayParameters, the stop.
func (s *session) runISO20DC() error {
	p := s.p.ISO20DC
	if p == nil {
		return fmt.Errorf("%w: the charger chose ISO 15118-20 DC, which profile %s does not charge with", ErrBadResponse, s.p.Name)
	}
	if err := s.iso20Services(iso20ServiceDC, "DC"); err != nil {
		return err
	}
	zero := Physical{}
	if _, err := s.iso20DC(message.DC_ChargeParameterDiscoveryReq, dc.Document{DC_ChargeParameterDiscoveryReq: &dc.DC_ChargeParameterDiscoveryReqType{
		DC_CPDReqEnergyTransferMode: &dc.DC_CPDReqEnergyTransferModeType{EVMaximumChargePower: rational(p.MaxPower), EVMinimumChargePower: rational(zero),
			EVMaximumChargeCurrent: rational(p.MaxCurrent), EVMinimumChargeCurrent: rational(zero),
			EVMaximumVoltage: rational(p.MaxVoltage), EVMinimumVoltage: rational(p.MinVoltage), TargetSOC: percent(p.TargetSOC)}}}); err != nil {
		return err
	}
	if err := s.iso20Schedule(p.TargetSOC, p.EnergyRequest); err != nil {
		return err
	}
	s.startPhase(TimerCable, s.cableCheckTimeout())
	for {
		res, err := s.iso20DC(message.DC_CableCheckReq, dc.Document{DC_CableCheckReq: &dc.DC_CableCheckReqType{}})
		if err != nil {
			return err
		}
		if res.DC_CableCheckRes.EVSEProcessing == iso20.ProcessingFinished {
			break
		}
	}
	s.endPhase()
	s.startPhase(TimerPreCharge, V2G_EVCC_PreCharge_Timeout)
	present := zero
	for {
		res, err := s.iso20DC(message.DC_PreChargeReq, dc.Document{DC_PreChargeReq: &dc.DC_PreChargeReqType{
			EVProcessing: iso20.ProcessingOngoing, EVPresentVoltage: rational(present), EVTargetVoltage: rational(p.Voltage)}})
		if err != nil {
			return err
		}
		v := res.DC_PreChargeRes.EVSEPresentVoltage
		present = Physical{v.Value, v.Exponent}
		if voltageClose(present.Float(), p.Voltage.Float()) {
			break
		}
	}
	s.endPhase()
	// In scheduled mode the car draws the schedule's power, up to its own,
	// as a target current at its voltage.
	power := s.schedule.follow(rational(p.MaxPower))
	if err := s.iso20Start(power); err != nil {
		return err
	}
	current := rational(p.MaxCurrent)
	if i := value20(power) / p.Voltage.Float(); p.Voltage.Float() > 0 && i < p.MaxCurrent.Float() {
		current = iso20.RationalNumberType{Value: int16(i)}
	}
	for i := range s.rounds() {
		if err := s.loopPace(i); err != nil {
			return err
		}
		l := &dc.DC_ChargeLoopReqType{EVPresentVoltage: rational(p.Voltage)}
		if s.schedule.on {
			request, maxP, maxI, maxV := rational(p.EnergyRequest), rational(p.MaxPower), rational(p.MaxCurrent), rational(p.MaxVoltage)
			l.Scheduled_DC_CLReqControlMode = &dc.Scheduled_DC_CLReqControlModeType{EVTargetEnergyRequest: &request, EVMaximumEnergyRequest: &request,
				EVTargetCurrent: current, EVTargetVoltage: rational(p.Voltage), EVMaximumChargePower: &maxP, EVMaximumChargeCurrent: &maxI, EVMaximumVoltage: &maxV}
		} else {
			l.Dynamic_DC_CLReqControlMode = &dc.Dynamic_DC_CLReqControlModeType{
				EVTargetEnergyRequest: rational(p.EnergyRequest), EVMaximumEnergyRequest: rational(p.EnergyRequest), EVMinimumEnergyRequest: rational(zero),
				EVMaximumChargePower: rational(p.MaxPower), EVMinimumChargePower: rational(zero), EVMaximumChargeCurrent: rational(p.MaxCurrent),
				EVMaximumVoltage: rational(p.MaxVoltage), EVMinimumVoltage: rational(p.MinVoltage)}
		}
		l.DisplayParameters = s.iso20Display(i, p.SoCStep, p.TargetSOC)
		res, err := s.iso20DC(message.DC_ChargeLoopReq, dc.Document{DC_ChargeLoopReq: l})
		if err != nil {
			return err
		}
		if st := res.DC_ChargeLoopRes.EVSEStatus; st != nil && st.EVSENotification == iso20.EvseNotificationTerminate {
			return s.iso20Stop(true, EndShutdown)
		}
	}
	return s.iso20Stop(true, EndComplete)
}

// iso20Welding repeats DC_WeldingDetectionReq until the charger's voltage
// has fallen, as chargeDC's stop does.
func (s *session) iso20Welding() error {
	for range maxWeldingRounds {
		res, err := s.iso20DC(message.DC_WeldingDetectionReq, dc.Document{DC_WeldingDetectionReq: &dc.DC_WeldingDetectionReqType{EVProcessing: iso20.ProcessingFinished}})
		if err != nil {
			return err
		}
		v := res.DC_WeldingDetectionRes.EVSEPresentVoltage
		if (Physical{v.Value, v.Exponent}).Float() < weldingVoltage {
			break
		}
	}
	return nil
}

// iso20DC is iso20Common for a request of the DC schema.
func (s *session) iso20DC(kind message.Kind, req dc.Document) (*dc.Document, error) {
	hd := iso20.MessageHeaderType{SessionID: s.sid, TimeStamp: uint64(max(s.clk.Now().Unix(), 0))}
	switch {
	case req.DC_ChargeParameterDiscoveryReq != nil:
		req.DC_ChargeParameterDiscoveryReq.Header = hd
	case req.DC_CableCheckReq != nil:
		req.DC_CableCheckReq.Header = hd
	case req.DC_PreChargeReq != nil:
		req.DC_PreChargeReq.Header = hd
	case req.DC_ChargeLoopReq != nil:
		req.DC_ChargeLoopReq.Header = hd
	case req.DC_WeldingDetectionReq != nil:
		req.DC_WeldingDetectionReq.Header = hd
	}
	b, err := dc.Append(s.message(), &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, kind, err)
	}
	var doc dc.Document
	if err := s.iso20Exchange(kind, b, v2gtp.TypeISO20DC, func(p []byte) (message.Kind, iso20.ResponseCodeType, error) {
		_, err := dc.Unmarshal(p, &doc)
		var c iso20.ResponseCodeType
		switch {
		case doc.DC_ChargeParameterDiscoveryRes != nil:
			c = doc.DC_ChargeParameterDiscoveryRes.ResponseCode
		case doc.DC_CableCheckRes != nil:
			c = doc.DC_CableCheckRes.ResponseCode
		case doc.DC_PreChargeRes != nil:
			c = doc.DC_PreChargeRes.ResponseCode
		case doc.DC_ChargeLoopRes != nil:
			c = doc.DC_ChargeLoopRes.ResponseCode
		case doc.DC_WeldingDetectionRes != nil:
			c = doc.DC_WeldingDetectionRes.ResponseCode
		}
		return doc.Message(), c, err
	}); err != nil {
		return nil, err
	}
	return &doc, nil
}
