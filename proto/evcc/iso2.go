package evcc

import (
	"bytes"

	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// runISO2 plays ISO 15118-2, DC or AC as the charger's services allow,
// after the handshake.
func (s *session) runISO2() error {
	s.send = sender(s, iso2Codec, s.isoBody)
	if err := s.begin(); err != nil {
		return err
	}
	res, err := exchangeV2G(s, iso2Codec, s.isoBody(iso2.KindServiceDiscoveryReq, false))
	if err != nil {
		return err
	}
	cs := &res.ServiceDiscoveryRes.ChargeService
	mode, ok := s.isoMode(cs.SupportedEnergyTransferMode.EnergyTransferMode)
	if !ok {
		return s.stop(false, EndNoService)
	}
	s.ac = mode <= iso2.EnergyTransferModeAC_three_phase_core
	s.res.Mode = mode.String()
	s.mode = mode
	s.serviceID = cs.ServiceID
	if _, err := exchangeV2G(s, iso2Codec, s.isoBody(iso2.KindPaymentServiceSelectionReq, false)); err != nil {
		return err
	}
	if err := s.await(message.AuthorizationReq); err != nil {
		return err
	}
	s.startPhase(TimerOngoing, V2G_EVCC_Ongoing_Timeout)
	for {
		res, err := exchangeV2G(s, iso2Codec, s.isoBody(iso2.KindChargeParameterDiscoveryReq, false))
		if err != nil {
			return err
		}
		s.noteSent()
		if s.ac {
			s.res.Sent.EAmountWh = int64(s.p.AC.EAmount.Float())
		}
		cpd := res.ChargeParameterDiscoveryRes
		if l := cpd.SAScheduleList; l != nil && len(l.SAScheduleTuple) > 0 {
			s.tupleID = l.SAScheduleTuple[0].SAScheduleTupleID
		}
		switch {
		case s.ac && s.p.Quirks.Has(QuirkCloseAfterACDiscovery):
			return finish(EndCarStopped)
		case s.p.Quirks.Has(QuirkFull):
			return s.stop(false, EndCarStopped)
		case s.p.Quirks.Has(QuirkStopAfterDiscovery):
			return s.stop(true, EndCarStopped)
		case isoDiscoveryShutdown(cpd) && !s.p.Quirks.Has(QuirkIgnoreShutdown):
			return s.stop(false, EndShutdown)
		}
		if cpd.EVSEProcessing == iso2.EVSEProcessingFinished {
			break
		}
	}
	s.endPhase()
	if s.ac {
		return s.isoChargeAC()
	}
	return s.chargeDC()
}

func (s *session) isoChargeAC() error {
	res, err := exchangeV2G(s, iso2Codec, s.isoBody(iso2.KindPowerDeliveryReq, true))
	if err != nil {
		return err
	}
	if st := res.PowerDeliveryRes.AC_EVSEStatus; st != nil && st.EVSENotification == iso2.EVSENotificationStopCharging {
		return s.stop(true, EndShutdown)
	}
	for range s.rounds() {
		res, err := exchangeV2G(s, iso2Codec, s.isoBody(iso2.KindChargingStatusReq, false))
		if err != nil {
			return err
		}
		if res.ChargingStatusRes.AC_EVSEStatus.EVSENotification == iso2.EVSENotificationStopCharging {
			return s.stop(true, EndShutdown)
		}
	}
	return s.stop(true, EndComplete)
}

// isoMode picks the energy transfer: DC if both sides can, else AC.
func (s *session) isoMode(offered []iso2.EnergyTransferModeType) (iso2.EnergyTransferModeType, bool) {
	has := func(m iso2.EnergyTransferModeType) bool {
		for _, o := range offered {
			if o == m {
				return true
			}
		}
		return false
	}
	if s.p.DC && has(iso2.EnergyTransferModeDC_extended) {
		return iso2.EnergyTransferModeDC_extended, true
	}
	if s.p.AC != nil {
		want, other := iso2.EnergyTransferModeAC_single_phase_core, iso2.EnergyTransferModeAC_three_phase_core
		if s.p.AC.ThreePhase {
			want, other = other, want
		}
		if has(want) {
			return want, true
		}
		if has(other) {
			return other, true
		}
	}
	return 0, false
}

// isoBody builds the car's request of kind; start selects PowerDelivery
// start or stop.
func (s *session) isoBody(kind iso2.MessageKind, start bool) *iso2.BodyType {
	p := &s.p
	var b iso2.BodyType
	switch kind {
	case iso2.KindSessionSetupReq:
		b.SessionSetupReq = &iso2.SessionSetupReqType{EVCCID: bytes.Clone(s.evccid[:])}
	case iso2.KindServiceDiscoveryReq:
		b.ServiceDiscoveryReq = &iso2.ServiceDiscoveryReqType{}
		if !p.Quirks.Has(QuirkNoServiceCategory) {
			c := iso2.ServiceCategoryEVCharging
			b.ServiceDiscoveryReq.ServiceCategory = &c
		}
	case iso2.KindPaymentServiceSelectionReq:
		b.PaymentServiceSelectionReq = &iso2.PaymentServiceSelectionReqType{
			SelectedPaymentOption: iso2.PaymentOptionExternalPayment,
			SelectedServiceList:   iso2.SelectedServiceListType{SelectedService: []iso2.SelectedServiceType{{ServiceID: s.serviceID}}},
		}
	case iso2.KindAuthorizationReq:
		b.AuthorizationReq = &iso2.AuthorizationReqType{}
	case iso2.KindChargeParameterDiscoveryReq:
		r := &iso2.ChargeParameterDiscoveryReqType{RequestedEnergyTransferMode: s.mode}
		if p.MaxEntries > 0 {
			n := p.MaxEntries
			r.MaxEntriesSAScheduleTuple = &n
		}
		if s.ac {
			a := p.AC
			r.AC_EVChargeParameter = &iso2.AC_EVChargeParameterType{
				EAmount:      isoPV(a.EAmount, iso2.UnitSymbolWh),
				EVMaxVoltage: isoPV(a.MaxVoltage, iso2.UnitSymbolV),
				EVMaxCurrent: isoPV(a.MaxCurrent, iso2.UnitSymbolA),
				EVMinCurrent: isoPV(a.MinCurrent, iso2.UnitSymbolA),
			}
		} else {
			r.DC_EVChargeParameter = &iso2.DC_EVChargeParameterType{
				DC_EVStatus:           s.isoEVStatus(p.Quirks.Has(QuirkReadyEarly)),
				EVMaximumCurrentLimit: isoPV(p.MaxCurrent, iso2.UnitSymbolA),
				EVMaximumPowerLimit:   isoOpt(p.MaxPower, iso2.UnitSymbolW),
				EVMaximumVoltageLimit: isoPV(p.MaxVoltage, iso2.UnitSymbolV),
				EVEnergyCapacity:      isoOpt(p.Capacity, iso2.UnitSymbolWh),
				EVEnergyRequest:       isoOpt(p.Request, iso2.UnitSymbolWh),
				FullSOC:               percent(p.FullSOC),
				BulkSOC:               percent(p.BulkSOC),
			}
		}
		b.ChargeParameterDiscoveryReq = r
	case iso2.KindCableCheckReq:
		b.CableCheckReq = &iso2.CableCheckReqType{DC_EVStatus: s.isoEVStatus(true)}
	case iso2.KindPreChargeReq:
		b.PreChargeReq = &iso2.PreChargeReqType{
			DC_EVStatus:     s.isoEVStatus(true),
			EVTargetVoltage: isoPV(p.PreChargeVoltage, iso2.UnitSymbolV),
			EVTargetCurrent: isoPV(p.PreChargeCurrent, iso2.UnitSymbolA),
		}
	case iso2.KindPowerDeliveryReq:
		r := &iso2.PowerDeliveryReqType{ChargeProgress: iso2.ChargeProgressStop, SAScheduleTupleID: s.tupleID}
		if start {
			r.ChargeProgress = iso2.ChargeProgressStart
		}
		maxPower := p.ProfileMaxPower
		if s.ac {
			maxPower = p.AC.ProfileMaxPower
		}
		if maxPower != nil {
			r.ChargingProfile = &iso2.ChargingProfileType{ProfileEntry: []iso2.ProfileEntryType{
				{ChargingProfileEntryMaxPower: isoPV(*maxPower, iso2.UnitSymbolW)},
			}}
		}
		if !s.ac {
			r.DC_EVPowerDeliveryParameter = &iso2.DC_EVPowerDeliveryParameterType{
				DC_EVStatus:          s.isoEVStatus(true),
				BulkChargingComplete: s.bulkComplete(),
			}
		}
		b.PowerDeliveryReq = r
	case iso2.KindCurrentDemandReq:
		b.CurrentDemandReq = &iso2.CurrentDemandReqType{
			DC_EVStatus:            s.isoEVStatus(true),
			EVTargetCurrent:        isoPV(p.DemandCurrent, iso2.UnitSymbolA),
			EVMaximumVoltageLimit:  isoOpt(&p.MaxVoltage, iso2.UnitSymbolV),
			EVMaximumCurrentLimit:  isoOpt(&p.MaxCurrent, iso2.UnitSymbolA),
			EVMaximumPowerLimit:    isoOpt(p.MaxPower, iso2.UnitSymbolW),
			BulkChargingComplete:   s.bulkComplete(),
			RemainingTimeToFullSoC: isoOpt(p.RemainingFull, iso2.UnitSymbolS),
			RemainingTimeToBulkSoC: isoOpt(p.RemainingBulk, iso2.UnitSymbolS),
			EVTargetVoltage:        isoPV(p.DemandVoltage, iso2.UnitSymbolV),
		}
	case iso2.KindChargingStatusReq:
		b.ChargingStatusReq = &iso2.ChargingStatusReqType{}
	case iso2.KindWeldingDetectionReq:
		b.WeldingDetectionReq = &iso2.WeldingDetectionReqType{DC_EVStatus: s.isoEVStatus(false)}
	case iso2.KindSessionStopReq:
		b.SessionStopReq = &iso2.SessionStopReqType{ChargingSession: iso2.ChargingSessionTerminate}
	}
	return &b
}

// isoDCRequests and isoACRequests are the kinds an ISO-2 car sends.
var (
	isoDCRequests = []iso2.MessageKind{
		iso2.KindSessionSetupReq, iso2.KindServiceDiscoveryReq, iso2.KindPaymentServiceSelectionReq,
		iso2.KindAuthorizationReq, iso2.KindChargeParameterDiscoveryReq, iso2.KindCableCheckReq,
		iso2.KindPreChargeReq, iso2.KindPowerDeliveryReq, iso2.KindCurrentDemandReq,
		iso2.KindWeldingDetectionReq, iso2.KindSessionStopReq,
	}
	isoACRequests = []iso2.MessageKind{
		iso2.KindSessionSetupReq, iso2.KindServiceDiscoveryReq, iso2.KindPaymentServiceSelectionReq,
		iso2.KindAuthorizationReq, iso2.KindChargeParameterDiscoveryReq, iso2.KindPowerDeliveryReq,
		iso2.KindChargingStatusReq, iso2.KindSessionStopReq,
	}
)

func (s *session) isoEVStatus(ready bool) iso2.DC_EVStatusType {
	return iso2.DC_EVStatusType{EVReady: ready, EVErrorCode: iso2.DC_EVErrorCodeNO_ERROR, EVRESSSOC: int8(max(s.p.SoC, 0))}
}

func isoPV(v Physical, u iso2.UnitSymbolType) iso2.PhysicalValueType {
	return iso2.PhysicalValueType{Multiplier: v.Multiplier, Unit: u, Value: v.Value}
}

func isoOpt(v *Physical, u iso2.UnitSymbolType) *iso2.PhysicalValueType { return optional(v, u, isoPV) }

func isoFloat(v iso2.PhysicalValueType) float64 {
	return Physical{v.Value, v.Multiplier}.Float()
}

// isoShutdown reports whether the charger's DC status asks the car to stop.
func isoShutdown(st *iso2.DC_EVSEStatusType) bool {
	switch st.EVSEStatusCode {
	case iso2.DC_EVSEStatusCodeEVSE_Shutdown, iso2.DC_EVSEStatusCodeEVSE_EmergencyShutdown, iso2.DC_EVSEStatusCodeEVSE_Malfunction:
		return true
	}
	return st.EVSENotification == iso2.EVSENotificationStopCharging
}

func isoDiscoveryShutdown(r *iso2.ChargeParameterDiscoveryResType) bool {
	if p := r.DC_EVSEChargeParameter; p != nil && isoShutdown(&p.DC_EVSEStatus) {
		return true
	}
	p := r.AC_EVSEChargeParameter
	return p != nil && p.AC_EVSEStatus.EVSENotification == iso2.EVSENotificationStopCharging
}
