package evcc

import "github.com/ccslink/ccslink/proto/v2g/message"

// The car's flow where DIN and ISO-2 are the same, over the protocol's
// sendFunc (din.go and iso2.go hold what differs).

// answer is what the car's flow reads of the charger's answer, whichever
// the protocol (dinAnswer, isoAnswer).
type answer struct {
	finished bool    // EVSEProcessing Finished, or an answer without one
	shutdown bool    // the charger's DC status asks the car to stop
	voltage  float64 // EVSEPresentVoltage, where the answer has one
}

// sendFunc sends the car's request of kind (start selects PowerDelivery
// start or stop) in the session's protocol and reads the answer.
type sendFunc func(kind message.Kind, start bool) (answer, error)

// begin starts the session after the handshake: SessionSetup with a
// SessionID of zeros (of one byte with QuirkShortSessionID).
func (s *session) begin() error {
	s.sid = make([]byte, 8)
	if s.p.Quirks.Has(QuirkShortSessionID) {
		s.sid = s.sid[:1]
	}
	_, err := s.send(message.SessionSetupReq, false)
	return err
}

// await repeats the request of kind until the charger's EVSEProcessing is Finished.
func (s *session) await(kind message.Kind) error {
	s.startPhase(TimerOngoing, V2G_EVCC_Ongoing_Timeout)
	for {
		a, err := s.send(kind, false)
		if err != nil {
			return err
		}
		if a.finished {
			s.endPhase()
			return nil
		}
	}
}

// chargeDC plays DC charging after ChargeParameterDiscovery, the same in
// DIN and ISO-2: CableCheck until Finished, PreCharge until the charger's
// voltage is close to the target, PowerDelivery(start), the rounds of
// CurrentDemand and the stop; the charger's shutdown stops it at any step.
func (s *session) chargeDC() error {
	s.startPhase(TimerCable, s.cableCheckTimeout())
	for {
		a, err := s.send(message.CableCheckReq, false)
		if err != nil {
			return err
		}
		if a.shutdown {
			return s.stop(false, EndShutdown)
		}
		if a.finished {
			break
		}
	}
	s.endPhase()
	target := s.p.PreChargeVoltage.Float()
	s.startPhase(TimerPreCharge, V2G_EVCC_PreCharge_Timeout)
	for {
		a, err := s.send(message.PreChargeReq, false)
		if err != nil {
			return err
		}
		if a.shutdown {
			return s.stop(false, EndShutdown)
		}
		if voltageClose(a.voltage, target) {
			break
		}
	}
	s.endPhase()
	a, err := s.send(message.PowerDeliveryReq, true)
	if err != nil {
		return err
	}
	if a.shutdown {
		return s.stop(true, EndShutdown)
	}
	for range s.rounds() {
		a, err := s.send(message.CurrentDemandReq, false)
		if err != nil {
			return err
		}
		if a.shutdown {
			return s.stop(true, EndShutdown)
		}
	}
	return s.stop(true, EndComplete)
}

// stop ends the session: PowerDelivery(stop) if power was asked for,
// WeldingDetection after DC charging, SessionStop.
func (s *session) stop(powered bool, end End) error {
	s.endPhase()
	if powered {
		if _, err := s.send(message.PowerDeliveryReq, false); err != nil {
			return err
		}
	}
	if end == EndComplete && !s.ac && !s.p.Quirks.Has(QuirkNoWeldingDetection) {
		for range maxWeldingRounds {
			a, err := s.send(message.WeldingDetectionReq, false)
			if err != nil {
				return err
			}
			if a.voltage < weldingVoltage {
				break
			}
		}
	}
	if _, err := s.send(message.SessionStopReq, false); err != nil {
		return err
	}
	return finish(end)
}
