package evcc

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// NamespaceISO20AC is what a car offers for ISO 15118-20 AC.
const NamespaceISO20AC = message.NamespaceISO20AC

func iso20ACProto(schemaID, prio uint8) apphand.AppProtocolType {
	return apphand.AppProtocolType{ProtocolNamespace: NamespaceISO20AC, VersionNumberMajor: 1, SchemaID: schemaID, Priority: prio}
}

// ISO20AC holds what a car sends in ISO 15118-20 AC (EIM, dynamic mode or,
// with Profile.ISO20Scheduled, scheduled mode). The loop's PresentSOC
// starts at Profile.SoC and rises by SoCStep per AC_ChargeLoopReq;
// BatteryEnergyCapacity is Profile.Capacity.
type ISO20AC struct {
	MaxPower, MinPower Physical // W
	TargetSOC          int      // percent; -1 = not sent
	EnergyRequest      Physical // Wh, EVTargetEnergyRequest
	SoCStep            int      // percent per loop
}

// runISO20 plays ISO 15118-20 AC after the handshake: EIM, the AC service
// in the profile's control mode, the charge loop with the profile's
// DisplayParameters, the stop.
func (s *session) runISO20() error {
	p := s.p.ISO20AC
	if p == nil {
		return fmt.Errorf("%w: the charger chose ISO 15118-20 AC, which profile %s does not charge with", ErrBadResponse, s.p.Name)
	}
	if err := s.iso20Services(iso20ServiceAC, "AC"); err != nil {
		return err
	}
	if _, err := s.iso20AC(message.AC_ChargeParameterDiscoveryReq, ac.Document{AC_ChargeParameterDiscoveryReq: &ac.AC_ChargeParameterDiscoveryReqType{
		AC_CPDReqEnergyTransferMode: &ac.AC_CPDReqEnergyTransferModeType{EVMaximumChargePower: rational(p.MaxPower), EVMinimumChargePower: rational(p.MinPower)}}}); err != nil {
		return err
	}
	if err := s.iso20Schedule(p.TargetSOC, p.EnergyRequest); err != nil {
		return err
	}
	// In scheduled mode the car charges at the schedule's power, up to its own.
	power := s.schedule.follow(rational(p.MaxPower))
	if err := s.iso20Start(power); err != nil {
		return err
	}
	for i := range s.rounds() {
		if err := s.loopPace(i); err != nil {
			return err
		}
		l := &ac.AC_ChargeLoopReqType{}
		if s.schedule.on {
			request, maxP, minP := rational(p.EnergyRequest), rational(p.MaxPower), rational(p.MinPower)
			l.Scheduled_AC_CLReqControlMode = &ac.Scheduled_AC_CLReqControlModeType{EVTargetEnergyRequest: &request, EVMaximumEnergyRequest: &request,
				EVMaximumChargePower: &maxP, EVMinimumChargePower: &minP, EVPresentActivePower: power}
		} else {
			l.Dynamic_AC_CLReqControlMode = &ac.Dynamic_AC_CLReqControlModeType{
				EVTargetEnergyRequest: rational(p.EnergyRequest), EVMaximumEnergyRequest: rational(p.EnergyRequest),
				EVMaximumChargePower: rational(p.MaxPower), EVMinimumChargePower: rational(p.MinPower), EVPresentActivePower: rational(p.MaxPower)}
		}
		l.DisplayParameters = s.iso20Display(i, p.SoCStep, p.TargetSOC)
		res, err := s.iso20AC(message.AC_ChargeLoopReq, ac.Document{AC_ChargeLoopReq: l})
		if err != nil {
			return err
		}
		if st := res.AC_ChargeLoopRes.EVSEStatus; st != nil && st.EVSENotification == iso20.EvseNotificationTerminate {
			return s.iso20Stop(true, EndShutdown)
		}
	}
	return s.iso20Stop(true, EndComplete)
}

// iso20Display is the DisplayParameters of the car's loop i: PresentSOC
// from Profile.SoC rising by step per loop, noted as sent.
func (s *session) iso20Display(i, step, target int) *iso20.DisplayParametersType {
	soc := min(s.p.SoC+i*step, 100)
	dp := &iso20.DisplayParametersType{PresentSOC: percent(soc), TargetSOC: percent(target)}
	if s.p.Capacity != nil {
		c := rational(*s.p.Capacity)
		dp.BatteryEnergyCapacity = &c
	}
	s.res.SoCs = append(s.res.SoCs, soc)
	// What the charger has been told: the newest SoC.
	s.res.Sent.SoC, s.res.Sent.CapacityWh = soc, wh(s.p.Capacity)
	return dp
}

// iso20Services plays SessionSetup, EIM authorization and the choice of
// the energy service (its ServiceID, named energy) in the profile's
// control mode.
func (s *session) iso20Services(service uint16, energy string) error {
	s.sid = make([]byte, 8)
	res, err := s.iso20Common(message.SessionSetupReq, iso20.Document{SessionSetupReq: &iso20.SessionSetupReqType{EVCCID: strings.ToUpper(hex.EncodeToString(s.evccid[:]))}})
	if err != nil {
		return err
	}
	if err := s.setSessionID(res.SessionSetupRes.Header.SessionID); err != nil {
		return err
	}
	if _, err := s.iso20Common(message.AuthorizationSetupReq, iso20.Document{AuthorizationSetupReq: &iso20.AuthorizationSetupReqType{}}); err != nil {
		return err
	}
	s.startPhase(TimerOngoing, V2G_EVCC_Ongoing_Timeout)
	for {
		res, err := s.iso20Common(message.AuthorizationReq, iso20.Document{AuthorizationReq: &iso20.AuthorizationReqType{
			SelectedAuthorizationService: iso20.AuthorizationEIM, EIM_AReqAuthorizationMode: &iso20.EIM_AReqAuthorizationModeType{}}})
		if err != nil {
			return err
		}
		if res.AuthorizationRes.EVSEProcessing == iso20.ProcessingFinished {
			break
		}
	}
	s.endPhase()
	res, err = s.iso20Common(message.ServiceDiscoveryReq, iso20.Document{ServiceDiscoveryReq: &iso20.ServiceDiscoveryReqType{}})
	if err != nil {
		return err
	}
	offered := false
	for _, sv := range res.ServiceDiscoveryRes.EnergyTransferServiceList.Service {
		offered = offered || sv.ServiceID == service
	}
	if !offered {
		return s.iso20Stop(false, EndNoService)
	}
	res, err = s.iso20Common(message.ServiceDetailReq, iso20.Document{ServiceDetailReq: &iso20.ServiceDetailReqType{ServiceID: service}})
	if err != nil {
		return err
	}
	mode, name := controlDynamic, "dynamic"
	if s.p.ISO20Scheduled {
		mode, name = controlScheduled, "scheduled"
	}
	set, ok := parameterSet(res.ServiceDetailRes.ServiceParameterList, mode)
	if !ok {
		return s.iso20Stop(false, EndNoService)
	}
	s.schedule.on = s.p.ISO20Scheduled
	s.res.Mode = energy + " " + name
	_, err = s.iso20Common(message.ServiceSelectionReq, iso20.Document{ServiceSelectionReq: &iso20.ServiceSelectionReqType{
		SelectedEnergyTransferService: iso20.SelectedServiceType{ServiceID: service, ParameterSetID: set}}})
	return err
}

// iso20Schedule plays ScheduleExchange in the selected control mode until
// the charger has finished; in scheduled mode the car takes the first
// ScheduleTuple offered.
func (s *session) iso20Schedule(targetSOC int, request Physical) error {
	s.startPhase(TimerOngoing, V2G_EVCC_Ongoing_Timeout)
	for {
		req := &iso20.ScheduleExchangeReqType{MaximumSupportingPoints: 1024}
		if s.schedule.on {
			r := rational(request)
			req.Scheduled_SEReqControlMode = &iso20.Scheduled_SEReqControlModeType{EVTargetEnergyRequest: &r, EVMaximumEnergyRequest: &r}
		} else {
			req.Dynamic_SEReqControlMode = &iso20.Dynamic_SEReqControlModeType{DepartureTime: 7200, TargetSOC: percent(targetSOC),
				EVTargetEnergyRequest: rational(request), EVMaximumEnergyRequest: rational(request)}
		}
		res, err := s.iso20Common(message.ScheduleExchangeReq, iso20.Document{ScheduleExchangeReq: req})
		if err != nil {
			return err
		}
		if se := res.ScheduleExchangeRes; se.EVSEProcessing == iso20.ProcessingFinished {
			if s.schedule.on {
				if err := s.schedule.take(se.Scheduled_SEResControlMode); err != nil {
					return err
				}
				s.res.ScheduleTupleID = s.schedule.tuple
			}
			s.res.Sent.RequestWh = int64(request.Float())
			break
		}
	}
	s.endPhase()
	return nil
}

// iso20Start sends PowerDelivery(Start); in scheduled mode with the
// EVPowerProfile that selects the tuple taken, at power for the length
// of its first entry.
func (s *session) iso20Start(power iso20.RationalNumberType) error {
	pd := &iso20.PowerDeliveryReqType{ChargeProgress: iso20.ChargeProgressStart}
	if s.schedule.on {
		pd.EVPowerProfile = &iso20.EVPowerProfileType{TimeAnchor: uint64(max(s.clk.Now().Unix(), 0)),
			Scheduled_EVPPTControlMode: &iso20.Scheduled_EVPPTControlModeType{SelectedScheduleTupleID: s.schedule.tuple},
			EVPowerProfileEntries: iso20.EVPowerProfileEntryListType{EVPowerProfileEntry: []iso20.PowerScheduleEntryType{
				{Duration: s.schedule.duration, Power: power}}}}
	}
	_, err := s.iso20Common(message.PowerDeliveryReq, iso20.Document{PowerDeliveryReq: pd})
	return err
}

// iso20Schedule is the ScheduleTuple a car in scheduled mode follows.
type iso20Schedule struct {
	on       bool   // scheduled mode selected
	tuple    uint32 // its ScheduleTupleID
	power    iso20.RationalNumberType
	duration uint32 // s, of the first entry
}

// take keeps the first ScheduleTuple of m and its PowerSchedule's first entry.
func (sc *iso20Schedule) take(m *iso20.Scheduled_SEResControlModeType) error {
	if m == nil || len(m.ScheduleTuple) == 0 || len(m.ScheduleTuple[0].ChargingSchedule.PowerSchedule.PowerScheduleEntries.PowerScheduleEntry) == 0 {
		return fmt.Errorf("%w: ScheduleExchangeRes offers no ScheduleTuple with a PowerSchedule, which scheduled mode needs", ErrBadResponse)
	}
	t := &m.ScheduleTuple[0]
	e := t.ChargingSchedule.PowerSchedule.PowerScheduleEntries.PowerScheduleEntry[0]
	sc.tuple, sc.power, sc.duration = t.ScheduleTupleID, e.Power, e.Duration
	return nil
}

// follow is the power the car draws: in scheduled mode the schedule's, up
// to limit; in dynamic mode limit.
func (sc *iso20Schedule) follow(limit iso20.RationalNumberType) iso20.RationalNumberType {
	if sc.on && value20(sc.power) < value20(limit) {
		return sc.power
	}
	return limit
}

func value20(r iso20.RationalNumberType) float64 {
	return Physical{r.Value, r.Exponent}.Float()
}

// iso20ServiceAC is ISO-20's ServiceID of AC charging.
const iso20ServiceAC = 1

// The values of the ControlMode parameter (ISO 15118-20, 8.4.3.2.2).
const (
	controlScheduled int32 = 1
	controlDynamic   int32 = 2
)

// parameterSet returns the first parameter set of the service in control
// mode (ControlMode).
func parameterSet(l iso20.ServiceParameterListType, mode int32) (uint16, bool) {
	for _, set := range l.ParameterSet {
		for _, p := range set.Parameter {
			if p.Name == "ControlMode" && p.IntValue != nil && *p.IntValue == mode {
				return set.ParameterSetID, true
			}
		}
	}
	return 0, false
}

// iso20Stop ends the session: PowerDelivery(Stop) if power was asked for,
// DC_WeldingDetection after a completed DC charge, SessionStop(Terminate).
func (s *session) iso20Stop(powered bool, end End) error {
	s.endPhase()
	if powered {
		if _, err := s.iso20Common(message.PowerDeliveryReq, iso20.Document{PowerDeliveryReq: &iso20.PowerDeliveryReqType{ChargeProgress: iso20.ChargeProgressStop}}); err != nil {
			return err
		}
	}
	if powered && end == EndComplete && s.res.Namespace == NamespaceISO20DC {
		if err := s.iso20Welding(); err != nil {
			return err
		}
	}
	if _, err := s.iso20Common(message.SessionStopReq, iso20.Document{SessionStopReq: &iso20.SessionStopReqType{ChargingSession: iso20.ChargingSessionTerminate}}); err != nil {
		return err
	}
	return finish(end)
}

func rational(v Physical) iso20.RationalNumberType {
	return iso20.RationalNumberType{Value: v.Value, Exponent: v.Multiplier}
}

// iso20Common sends a request of CommonMessages (its Header filled in
// here) and returns the answer, checked to be kind's response with an OK
// or WARNING code.
func (s *session) iso20Common(kind message.Kind, req iso20.Document) (*iso20.Document, error) {
	h := iso20Header(&req)
	*h = iso20.MessageHeaderType{SessionID: s.sid, TimeStamp: uint64(max(s.clk.Now().Unix(), 0))}
	b, err := iso20.Append(s.message(), &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, kind, err)
	}
	var doc iso20.Document
	if err := s.iso20Exchange(kind, b, v2gtp.TypeISO20CommonMessages, func(p []byte) (message.Kind, iso20.ResponseCodeType, error) {
		_, err := iso20.Unmarshal(p, &doc)
		c, _ := iso20Code(&doc)
		return doc.Message(), c, err
	}); err != nil {
		return nil, err
	}
	return &doc, nil
}

// iso20AC is iso20Common for a request of the AC schema.
func (s *session) iso20AC(kind message.Kind, req ac.Document) (*ac.Document, error) {
	hd := iso20.MessageHeaderType{SessionID: s.sid, TimeStamp: uint64(max(s.clk.Now().Unix(), 0))}
	switch {
	case req.AC_ChargeParameterDiscoveryReq != nil:
		req.AC_ChargeParameterDiscoveryReq.Header = hd
	case req.AC_ChargeLoopReq != nil:
		req.AC_ChargeLoopReq.Header = hd
	}
	b, err := ac.Append(s.message(), &req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEncode, kind, err)
	}
	var doc ac.Document
	if err := s.iso20Exchange(kind, b, v2gtp.TypeISO20AC, func(p []byte) (message.Kind, iso20.ResponseCodeType, error) {
		_, err := ac.Unmarshal(p, &doc)
		var c iso20.ResponseCodeType
		switch {
		case doc.AC_ChargeParameterDiscoveryRes != nil:
			c = doc.AC_ChargeParameterDiscoveryRes.ResponseCode
		case doc.AC_ChargeLoopRes != nil:
			c = doc.AC_ChargeLoopRes.ResponseCode
		}
		return doc.Message(), c, err
	}); err != nil {
		return nil, err
	}
	return &doc, nil
}

// iso20Exchange sends b in its schema's payload type and reads the answer
// with read, which returns its kind and ResponseCode.
func (s *session) iso20Exchange(kind message.Kind, b []byte, stream v2gtp.PayloadType, read func([]byte) (message.Kind, iso20.ResponseCodeType, error)) error {
	s.stream = stream
	p, rtt, err := s.exchange(kind, b, V2G_EVCC_Msg_Timeout)
	if err != nil {
		return err
	}
	got, code, err := read(p)
	if err != nil {
		s.step(kind, "", rtt)
		return fmt.Errorf("%w: the answer to %s does not decode as ISO 15118-20: %w", ErrBadResponse, kind, err)
	}
	if got.Request() != kind || got == kind {
		s.step(kind, "", rtt)
		return fmt.Errorf("%w: %s answered with %s", ErrBadResponse, kind, got)
	}
	s.step(kind, code.String(), rtt)
	if code >= iso20.ResponseCodeFAILED {
		return finish(EndFailed)
	}
	return nil
}

// iso20Header returns the Header of the request in d.
func iso20Header(d *iso20.Document) *iso20.MessageHeaderType {
	switch {
	case d.SessionSetupReq != nil:
		return &d.SessionSetupReq.Header
	case d.AuthorizationSetupReq != nil:
		return &d.AuthorizationSetupReq.Header
	case d.AuthorizationReq != nil:
		return &d.AuthorizationReq.Header
	case d.ServiceDiscoveryReq != nil:
		return &d.ServiceDiscoveryReq.Header
	case d.ServiceDetailReq != nil:
		return &d.ServiceDetailReq.Header
	case d.ServiceSelectionReq != nil:
		return &d.ServiceSelectionReq.Header
	case d.ScheduleExchangeReq != nil:
		return &d.ScheduleExchangeReq.Header
	case d.PowerDeliveryReq != nil:
		return &d.PowerDeliveryReq.Header
	case d.SessionStopReq != nil:
		return &d.SessionStopReq.Header
	}
	return new(iso20.MessageHeaderType) // no request of the car's: nothing to fill in
}

// iso20Code is the ResponseCode of the answer in d.
func iso20Code(d *iso20.Document) (iso20.ResponseCodeType, bool) {
	switch {
	case d.SessionSetupRes != nil:
		return d.SessionSetupRes.ResponseCode, true
	case d.AuthorizationSetupRes != nil:
		return d.AuthorizationSetupRes.ResponseCode, true
	case d.AuthorizationRes != nil:
		return d.AuthorizationRes.ResponseCode, true
	case d.ServiceDiscoveryRes != nil:
		return d.ServiceDiscoveryRes.ResponseCode, true
	case d.ServiceDetailRes != nil:
		return d.ServiceDetailRes.ResponseCode, true
	case d.ServiceSelectionRes != nil:
		return d.ServiceSelectionRes.ResponseCode, true
	case d.ScheduleExchangeRes != nil:
		return d.ScheduleExchangeRes.ResponseCode, true
	case d.PowerDeliveryRes != nil:
		return d.PowerDeliveryRes.ResponseCode, true
	case d.SessionStopRes != nil:
		return d.SessionStopRes.ResponseCode, true
	}
	return 0, false
}
