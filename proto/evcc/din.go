package evcc

import (
	"bytes"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// runDIN plays DIN SPEC 70121 DC after the handshake.
func (s *session) runDIN() error {
	s.send = sender(s, dinCodec, s.dinBody)
	if err := s.begin(); err != nil {
		return err
	}
	res, err := exchangeV2G(s, dinCodec, s.dinBody(din.KindServiceDiscoveryReq, false))
	if err != nil {
		return err
	}
	sd := res.ServiceDiscoveryRes
	if !s.p.DC || !dinOffersDC(sd.ChargeService.EnergyTransferType) {
		return s.stop(false, EndNoService)
	}
	s.serviceID = sd.ChargeService.ServiceTag.ServiceID
	if _, err := exchangeV2G(s, dinCodec, s.dinBody(din.KindServicePaymentSelectionReq, false)); err != nil {
		return err
	}
	if err := s.await(message.ContractAuthenticationReq); err != nil {
		return err
	}
	s.res.Mode = din.EVRequestedEnergyTransferDC_extended.String()
	s.startPhase(TimerOngoing, V2G_EVCC_Ongoing_Timeout)
	for {
		res, err := exchangeV2G(s, dinCodec, s.dinBody(din.KindChargeParameterDiscoveryReq, false))
		if err != nil {
			return err
		}
		s.noteSent()
		cpd := res.ChargeParameterDiscoveryRes
		switch {
		case s.p.Quirks.Has(QuirkFull):
			return s.stop(false, EndCarStopped)
		case s.p.Quirks.Has(QuirkStopAfterDiscovery):
			return s.stop(true, EndCarStopped)
		case cpd.DC_EVSEChargeParameter != nil && dinShutdown(&cpd.DC_EVSEChargeParameter.DC_EVSEStatus) &&
			!s.p.Quirks.Has(QuirkIgnoreShutdown):
			return s.stop(false, EndShutdown)
		}
		if cpd.EVSEProcessing == din.EVSEProcessingFinished {
			break
		}
	}
	s.endPhase()
	return s.chargeDC()
}

// dinBody builds the car's request of kind; start selects PowerDelivery
// start or stop.
func (s *session) dinBody(kind din.MessageKind, start bool) *din.BodyType {
	p := &s.p
	var b din.BodyType
	switch kind {
	case din.KindSessionSetupReq:
		b.SessionSetupReq = &din.SessionSetupReqType{EVCCID: bytes.Clone(s.evccid[:])}
	case din.KindServiceDiscoveryReq:
		b.ServiceDiscoveryReq = &din.ServiceDiscoveryReqType{}
		if !p.Quirks.Has(QuirkNoServiceCategory) {
			c := din.ServiceCategoryEVCharging
			b.ServiceDiscoveryReq.ServiceCategory = &c
		}
	case din.KindServicePaymentSelectionReq:
		b.ServicePaymentSelectionReq = &din.ServicePaymentSelectionReqType{
			SelectedPaymentOption: din.PaymentOptionExternalPayment,
			SelectedServiceList:   din.SelectedServiceListType{SelectedService: []din.SelectedServiceType{{ServiceID: s.serviceID}}},
		}
	case din.KindContractAuthenticationReq:
		b.ContractAuthenticationReq = &din.ContractAuthenticationReqType{}
	case din.KindChargeParameterDiscoveryReq:
		b.ChargeParameterDiscoveryReq = &din.ChargeParameterDiscoveryReqType{
			EVRequestedEnergyTransferType: din.EVRequestedEnergyTransferDC_extended,
			DC_EVChargeParameter: &din.DC_EVChargeParameterType{
				DC_EVStatus:           s.dinEVStatus(p.Quirks.Has(QuirkReadyEarly)),
				EVMaximumCurrentLimit: dinPV(p.MaxCurrent, din.UnitSymbolA),
				EVMaximumPowerLimit:   dinOpt(p.MaxPower, din.UnitSymbolW),
				EVMaximumVoltageLimit: dinPV(p.MaxVoltage, din.UnitSymbolV),
				EVEnergyCapacity:      dinOpt(p.Capacity, din.UnitSymbolWh),
				EVEnergyRequest:       dinOpt(p.Request, din.UnitSymbolWh),
				FullSOC:               percent(p.FullSOC),
				BulkSOC:               percent(p.BulkSOC),
			},
		}
	case din.KindCableCheckReq:
		b.CableCheckReq = &din.CableCheckReqType{DC_EVStatus: s.dinEVStatus(true)}
	case din.KindPreChargeReq:
		b.PreChargeReq = &din.PreChargeReqType{
			DC_EVStatus:     s.dinEVStatus(true),
			EVTargetVoltage: dinPV(p.PreChargeVoltage, din.UnitSymbolV),
			EVTargetCurrent: dinPV(p.PreChargeCurrent, din.UnitSymbolA),
		}
	case din.KindPowerDeliveryReq:
		b.PowerDeliveryReq = &din.PowerDeliveryReqType{
			ReadyToChargeState: start,
			DC_EVPowerDeliveryParameter: &din.DC_EVPowerDeliveryParameterType{
				DC_EVStatus:          s.dinEVStatus(true),
				BulkChargingComplete: s.bulkComplete(),
			},
		}
	case din.KindCurrentDemandReq:
		b.CurrentDemandReq = &din.CurrentDemandReqType{
			DC_EVStatus:            s.dinEVStatus(true),
			EVTargetCurrent:        dinPV(p.DemandCurrent, din.UnitSymbolA),
			EVMaximumVoltageLimit:  dinOpt(&p.MaxVoltage, din.UnitSymbolV),
			EVMaximumCurrentLimit:  dinOpt(&p.MaxCurrent, din.UnitSymbolA),
			EVMaximumPowerLimit:    dinOpt(p.MaxPower, din.UnitSymbolW),
			BulkChargingComplete:   s.bulkComplete(),
			RemainingTimeToFullSoC: dinOpt(p.RemainingFull, din.UnitSymbolS),
			RemainingTimeToBulkSoC: dinOpt(p.RemainingBulk, din.UnitSymbolS),
			EVTargetVoltage:        dinPV(p.DemandVoltage, din.UnitSymbolV),
		}
	case din.KindWeldingDetectionReq:
		b.WeldingDetectionReq = &din.WeldingDetectionReqType{DC_EVStatus: s.dinEVStatus(false)}
	case din.KindSessionStopReq:
		b.SessionStopReq = &din.SessionStopType{}
	}
	return &b
}

// dinRequests are the kinds a DIN car sends.
var dinRequests = []din.MessageKind{
	din.KindSessionSetupReq, din.KindServiceDiscoveryReq, din.KindServicePaymentSelectionReq,
	din.KindContractAuthenticationReq, din.KindChargeParameterDiscoveryReq, din.KindCableCheckReq,
	din.KindPreChargeReq, din.KindPowerDeliveryReq, din.KindCurrentDemandReq,
	din.KindWeldingDetectionReq, din.KindSessionStopReq,
}

func (s *session) dinEVStatus(ready bool) din.DC_EVStatusType {
	st := din.DC_EVStatusType{EVReady: ready, EVErrorCode: din.DC_EVErrorCodeNO_ERROR, EVRESSSOC: int8(max(s.p.SoC, 0))}
	if s.p.Quirks.Has(QuirkConditioning) {
		f := false
		st.EVCabinConditioning, st.EVRESSConditioning = &f, &f
	}
	return st
}

func (s *session) bulkComplete() *bool {
	if !s.p.Quirks.Has(QuirkBulkComplete) {
		return nil
	}
	done := s.p.BulkSOC >= 0 && s.p.SoC >= s.p.BulkSOC
	return &done
}

func percent(v int) *int8 {
	if v < 0 {
		return nil
	}
	p := int8(min(v, 127))
	return &p
}

func dinPV(v Physical, u din.UnitSymbolType) din.PhysicalValueType {
	return din.PhysicalValueType{Multiplier: v.Multiplier, Unit: &u, Value: v.Value}
}

func dinOpt(v *Physical, u din.UnitSymbolType) *din.PhysicalValueType { return optional(v, u, dinPV) }

func dinFloat(v din.PhysicalValueType) float64 {
	return Physical{v.Value, v.Multiplier}.Float()
}

// dinShutdown reports whether the charger's status asks the car to stop.
func dinShutdown(st *din.DC_EVSEStatusType) bool {
	switch st.EVSEStatusCode {
	case din.DC_EVSEStatusCodeEVSE_Shutdown, din.DC_EVSEStatusCodeEVSE_EmergencyShutdown, din.DC_EVSEStatusCodeEVSE_Malfunction:
		return true
	}
	return st.EVSENotification == din.EVSENotificationStopCharging
}

func dinOffersDC(t din.EVSESupportedEnergyTransferType) bool {
	switch t {
	case din.EVSESupportedEnergyTransferAC_single_phase_core, din.EVSESupportedEnergyTransferAC_three_phase_core:
		return false
	}
	return true
}
