package evcc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

// Namespaces of the protocols cars offer in SupportedAppProtocolReq.
const (
	NamespaceDIN   = message.NamespaceDIN
	NamespaceISO2  = message.NamespaceISO2
	NamespaceTesla = message.NamespaceTesla
)

// Physical is a quantity as a car encodes it, Value × 10^Multiplier in the
// unit of its field; kept as sent, because chargers must cope with every
// multiplier cars choose.
type Physical struct {
	Value      int16
	Multiplier int8
}

// Float returns the quantity in its unit.
func (v Physical) Float() float64 { return float64(v.Value) * math.Pow10(int(v.Multiplier)) }

func pv(value int16, mult int8) *Physical { return &Physical{value, mult} }

// optional is the protocol's physical value of v in unit u, made by of;
// nil when v is.
func optional[V, U any](v *Physical, u U, of func(Physical, U) V) *V {
	if v == nil {
		return nil
	}
	p := of(*v, u)
	return &p
}

// Quirks is a set of behaviours in which a car differs from the plain
// sequence of DIN SPEC 70121 or ISO 15118-2.
type Quirks uint32

// The quirks, each seen in a capture or a charger's issue tracker.
const (
	// QuirkShortSessionID: SessionSetupReq carries a one-byte SessionID 00
	// instead of eight zero bytes (VW MEB, Polestar, BMW, Mercedes).
	QuirkShortSessionID Quirks = 1 << iota
	// QuirkNoServiceCategory: ServiceDiscoveryReq is empty.
	QuirkNoServiceCategory
	// QuirkConditioning: DIN DC_EVStatus carries EVCabinConditioning and
	// EVRESSConditioning (both false).
	QuirkConditioning
	// QuirkBulkComplete: BulkChargingComplete is sent (SoC >= BulkSOC).
	QuirkBulkComplete
	// QuirkReadyEarly: EVReady is true already in ChargeParameterDiscoveryReq.
	QuirkReadyEarly
	// QuirkPaddedAuthorization: a 0x00 byte follows the EXI document of
	// ContractAuthenticationReq (Tesla).
	QuirkPaddedAuthorization
	// QuirkNoWeldingDetection: PowerDelivery(stop) is followed directly
	// by SessionStop.
	QuirkNoWeldingDetection
	// QuirkFull: the battery is full; the car sends SessionStopReq right
	// after the first ChargeParameterDiscoveryRes.
	QuirkFull
	// QuirkStopAfterDiscovery: PowerDeliveryReq(stop) right after the first
	// ChargeParameterDiscoveryRes, then SessionStopReq.
	QuirkStopAfterDiscovery
	// QuirkCloseAfterACDiscovery: in ISO-2 AC the car closes TCP after the
	// first ChargeParameterDiscoveryRes, without SessionStop.
	QuirkCloseAfterACDiscovery
	// QuirkIgnoreShutdown: EVSE_Shutdown in ChargeParameterDiscoveryRes
	// does not stop the car; it keeps asking while the charger says
	// Ongoing, until V2G_EVCC_Ongoing_Timeout.
	QuirkIgnoreShutdown
)

// Has reports whether q holds every quirk in x.
func (q Quirks) Has(x Quirks) bool { return q&x == x }

// AC holds what a car sends in ISO-2 AC.
type AC struct {
	ThreePhase                         bool     // AC_three_phase_core, else AC_single_phase_core
	EAmount                            Physical // Wh
	MaxVoltage, MaxCurrent, MinCurrent Physical // V, A, A
	ProfileMaxPower                    *Physical
}

// Profile is a car as the simulator plays it: what it offers and sends,
// with the values of a real car where a capture of it exists.
type Profile struct {
	Name   string // short id for --car
	Car    string // make, model, year
	Source string // where the values come from

	Protocols []apphand.AppProtocolType // offered in SupportedAppProtocolReq

	MAC          [6]byte       // the car's MAC and EVCCID
	RandomMAC    bool          // a fresh MAC per session, keeping MAC's first three bytes
	RunID        string        // SLAC RunID; "" = random per attempt
	SLACRestarts int           // SLAC attempts abandoned midway before one completes
	SDPDelay     time.Duration // from link-up to the first SDP request
	Think        time.Duration // from an answer to the next request (median of the capture); see Config.Paced

	SoC, FullSOC, BulkSOC int // percent; -1 = not sent (SoC is always sent in DC)

	DC                                 bool      // charges DC
	Capacity, Request                  *Physical // EVEnergyCapacity, EVEnergyRequest (Wh); nil = not sent
	MaxVoltage, MaxCurrent             Physical  // V, A
	MaxPower                           *Physical // W; nil = not sent
	PreChargeVoltage, PreChargeCurrent Physical  // PreChargeReq targets
	DemandVoltage, DemandCurrent       Physical  // CurrentDemandReq targets
	RemainingFull, RemainingBulk       *Physical // s; nil = not sent
	MaxEntries                         uint16    // ISO-2 MaxEntriesSAScheduleTuple; 0 = not sent
	ProfileMaxPower                    *Physical // ISO-2 DC PowerDeliveryReq ChargingProfile (W)

	AC *AC // nil: no AC charging
	// ISO20AC is what the car sends in ISO 15118-20 AC; nil: it does not speak it.
	ISO20AC *ISO20AC
	// ISO20DC is what the car sends in ISO 15118-20 DC; nil: it does not speak it.
	ISO20DC *ISO20DC
	// TLS: the car asks for TLS in SDP (Security 0x00) and talks only
	// over it, TLS 1.3 (TLSConfig), as -20 requires.
	TLS bool
	// ISO20Scheduled: under ISO 15118-20 the car selects scheduled mode
	// (the parameter set with ControlMode 1) and follows the charger's
	// schedule; else dynamic mode.
	ISO20Scheduled bool
	// LoopInterval is how often the car repeats an ISO 15118-20 charge
	// loop request, as a real car does (about once a second); the car
	// keeps it when paced (Config.Paced, Config.LoopInterval).
	LoopInterval time.Duration

	Rounds int // CurrentDemand or ChargingStatus rounds before the car stops; 0 = DefaultRounds

	Quirks Quirks

	// AfterSoC is what the car does on the control pilot once the DC
	// attempt is over (PilotCar); AfterSoCReport names the report it is
	// modelled from (cars.md, "After the SoC").
	AfterSoC       AfterSoC
	AfterSoCReport string
}

// The reports of cars.md's "After the SoC" that the profiles cite.
const (
	reportMost     = "cars.md, After the SoC: most cars start basic AC after the SmartEVSE's 5 s CP-off"
	reportMEB      = "cars.md, After the SoC: VW MEB needs a steady 100 % (X1) for ~2 s before PWM (Tinkerforge WARP firmware, 2026-08)"
	reportIoniq    = "cars.md, After the SoC: Hyundai Ioniq 28 kWh needs the CP toggled after a DIN session (SmartEVSE-3 #25, 2023-06)"
	reportPHEV     = "cars.md, After the SoC: Hyundai Ioniq plug-in hybrid stops at 5 % PWM until unplugged (EVerest logfiles)"
	reportZoe      = "cars.md, After the SoC: Renault Zoe R/Q never starts SLAC"
	reportRefuseAC = "cars.md, After the SoC: some cars refuse basic AC after any ISO 15118 session (WARP, 2026-07, cars unnamed)"
)

// DefaultRounds is the charging rounds of a Profile whose Rounds is zero.
const DefaultRounds = 5

// iso20LoopInterval is how often the -20 profiles loop: about once a
// second, as real -20 cars do.
const iso20LoopInterval = time.Second

// iso20ACCar is the simulator's ISO 15118-20 AC car, a plausible 77 kWh
// one, under a name of its own, its MAC ending in macLast, over TLS or
// not, in scheduled mode or dynamic.
func iso20ACCar(name, car, source string, macLast byte, tls, scheduled bool) Profile {
	return Profile{
		Name: name, Car: car, Source: source,
		Protocols: []apphand.AppProtocolType{iso20ACProto(1, 1), iso2Proto(2, 2)},
		MAC:       [6]byte{0x02, 0x32, 0x30, 0x41, 0x43, macLast},
		SoC:       40, FullSOC: -1, BulkSOC: -1,
		Capacity: pv(77, 3),
		AC: &AC{ThreePhase: true, EAmount: Physical{30, 3}, MaxVoltage: Physical{400, 0},
			MaxCurrent: Physical{16, 0}, MinCurrent: Physical{6, 0}},
		ISO20AC:        &ISO20AC{MaxPower: Physical{11, 3}, MinPower: Physical{1380, 0}, TargetSOC: 80, EnergyRequest: Physical{30, 3}, SoCStep: 1},
		ISO20Scheduled: scheduled,
		LoopInterval:   iso20LoopInterval,
		TLS:            tls,
		Quirks:         QuirkNoServiceCategory,
		AfterSoC:       ChargesAfterCPOff, AfterSoCReport: reportMost,
	}
}

func dinProto(schemaID, prio uint8) apphand.AppProtocolType {
	return apphand.AppProtocolType{ProtocolNamespace: NamespaceDIN, VersionNumberMajor: 2, SchemaID: schemaID, Priority: prio}
}

func iso2Proto(schemaID, prio uint8) apphand.AppProtocolType {
	return apphand.AppProtocolType{ProtocolNamespace: NamespaceISO2, VersionNumberMajor: 2, SchemaID: schemaID, Priority: prio}
}

// Profiles returns the known cars, the default car (Hyundai Ioniq) first.
func Profiles() []Profile {
	return []Profile{
		{
			Name: "ioniq", Car: "Hyundai Ioniq (2018)",
			Source:    "pyPLC 2023-05-24_pyPlc_with_Ioniq93prcSoc (every request value); SDP delay from cars.md",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1)},
			Think:     270 * time.Millisecond,
			MAC:       [6]byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3},
			SDPDelay:  4100 * time.Millisecond,
			SoC:       93, FullSOC: 94, BulkSOC: 83,
			DC:       true,
			Capacity: pv(28000, 0), Request: pv(1820, 0),
			MaxVoltage: Physical{4128, -1}, MaxCurrent: Physical{2000, -1}, MaxPower: pv(9800, 1),
			PreChargeVoltage: Physical{3881, -1}, PreChargeCurrent: Physical{10, -1},
			DemandVoltage: Physical{3880, -1}, DemandCurrent: Physical{10, -1},
			RemainingFull: pv(120, 0), RemainingBulk: pv(0, 0),
			Quirks:   QuirkConditioning | QuirkBulkComplete,
			AfterSoC: NeedsToggle, AfterSoCReport: reportIoniq,
		},
		{
			Name: "tesla-model3", Car: "Tesla Model 3",
			Source:    "EVerest tesla-model3_din-dc (SAP, EVCCID, values, padded ContractAuthenticationReq, no WeldingDetection); RunID from cars.md",
			Protocols: []apphand.AppProtocolType{dinProto(1, 2), {ProtocolNamespace: NamespaceTesla, VersionNumberMinor: 7, SchemaID: 2, Priority: 1}},
			Think:     18 * time.Millisecond,
			MAC:       [6]byte{0xdc, 0x44, 0x27, 0x1d, 0xcd, 0x45},
			RunID:     "TESLA EV",
			SoC:       57, FullSOC: -1, BulkSOC: -1,
			DC:         true,
			MaxVoltage: Physical{4230, -1}, MaxCurrent: Physical{5490, -1}, MaxPower: pv(2320, 2),
			PreChargeVoltage: Physical{3700, -1}, PreChargeCurrent: Physical{0, -1},
			DemandVoltage: Physical{4230, -1}, DemandCurrent: Physical{0, -1}, // the first CurrentDemandReq
			Quirks:   QuirkReadyEarly | QuirkPaddedAuthorization | QuirkNoWeldingDetection,
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			Name: "id3", Car: "VW ID.3 (MEB)",
			Source: "EVerest vw-id3_iso2-dc and vw-id3_iso2-ac (SAP, values; EVCCIDs 00:7d:fa:xx:xx:xx differ per session: the OUI stays, the rest is random)",
			// The ID.3 offers DIN as well but prefers ISO-2.
			Protocols: []apphand.AppProtocolType{dinProto(1, 2), iso2Proto(0, 1)},
			Think:     120 * time.Millisecond,
			MAC:       [6]byte{0x00, 0x7d, 0xfa, 0x07, 0x90, 0xaf},
			RandomMAC: true,
			SoC:       74, FullSOC: -1, BulkSOC: -1,
			DC:         true,
			Request:    pv(5300, 0),
			MaxVoltage: Physical{4130, -1}, MaxCurrent: Physical{5000, -1},
			PreChargeVoltage: Physical{3700, -1}, PreChargeCurrent: Physical{20, -1},
			DemandVoltage: Physical{4130, -1}, DemandCurrent: Physical{0, -1},
			RemainingFull: pv(0, 1),
			MaxEntries:    192, ProfileMaxPower: pv(100, 2),
			AC: &AC{ThreePhase: true, EAmount: Physical{5300, 0}, MaxVoltage: Physical{272, 0},
				MaxCurrent: Physical{416, -1}, MinCurrent: Physical{15, -1}, ProfileMaxPower: pv(41, 2)},
			Quirks:   QuirkShortSessionID | QuirkNoServiceCategory,
			AfterSoC: NeedsX1, AfterSoCReport: reportMEB,
		},
		{
			Name: "ev6", Car: "Kia EV6",
			Source:    "EVerest kia-ev6_din-dc and kia-ev6_iso2-dc (SAP, EVCCID, values; no EVEnergyCapacity/Request)",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1), iso2Proto(2, 2)},
			Think:     80 * time.Millisecond,
			MAC:       [6]byte{0x04, 0xe7, 0x7e, 0x00, 0xf3, 0x98},
			SoC:       35, FullSOC: 100, BulkSOC: 80,
			DC:         true,
			MaxVoltage: Physical{8256, -1}, MaxCurrent: Physical{3100, -1},
			PreChargeVoltage: Physical{6954, -1}, PreChargeCurrent: Physical{10, -1},
			DemandVoltage: Physical{8256, -1}, DemandCurrent: Physical{0, -1},
			RemainingFull: pv(9960, 0), RemainingBulk: pv(6840, 0),
			MaxEntries: 12,
			Quirks:     QuirkConditioning | QuirkBulkComplete,
			AfterSoC:   ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			Name: "polestar2", Car: "Polestar 2",
			Source:    "pyPLC 2024-06-18_Griffigroen_pyPLC_polestar2 (DIN values) and EVerest polestar2_iso2-ac (SAP, EVCCID, AC values, closes TCP after ChargeParameterDiscoveryRes)",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1), iso2Proto(0, 2)},
			Think:     18 * time.Millisecond,
			MAC:       [6]byte{0x48, 0xc5, 0x8d, 0xb8, 0xde, 0x5a},
			SoC:       75, FullSOC: 100, BulkSOC: 80,
			DC:       true,
			Capacity: pv(7850, 1), Request: pv(2360, 1),
			MaxVoltage: Physical{470, 0}, MaxCurrent: Physical{3750, -1},
			PreChargeVoltage: Physical{418, 0}, PreChargeCurrent: Physical{0, -1},
			DemandVoltage: Physical{450, 0}, DemandCurrent: Physical{10, -1},
			RemainingFull: pv(18000, 0),
			AC: &AC{EAmount: Physical{946, 1}, MaxVoltage: Physical{275, 0},
				MaxCurrent: Physical{320, -1}, MinCurrent: Physical{60, -1}},
			Quirks:   QuirkShortSessionID | QuirkNoServiceCategory | QuirkBulkComplete | QuirkCloseAfterACDiscovery,
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			Name: "stellantis", Car: "Peugeot e-208 (Stellantis e-CMP)",
			Source:       "no capture: SLAC restart from cars.md; a 46 kWh e-CMP battery, plausible DC values",
			Protocols:    []apphand.AppProtocolType{dinProto(1, 1), iso2Proto(2, 2)},
			MAC:          [6]byte{0x02, 0x50, 0x45, 0x00, 0x02, 0x08},
			SLACRestarts: 1,
			SoC:          52, FullSOC: 100, BulkSOC: 80,
			DC:       true,
			Capacity: pv(4600, 1), Request: pv(2200, 1),
			MaxVoltage: Physical{4100, -1}, MaxCurrent: Physical{1250, -1}, MaxPower: pv(1000, 2),
			PreChargeVoltage: Physical{3600, -1}, PreChargeCurrent: Physical{0, -1},
			DemandVoltage: Physical{4100, -1}, DemandCurrent: Physical{100, -1},
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			Name: "no-capacity", Car: "BMW iX (2022)",
			Source:    "EVerest bmw-ix_din-dc (SAP, EVCCID, values: no EVEnergyCapacity, no EVEnergyRequest)",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1), iso2Proto(0, 2)},
			Think:     160 * time.Millisecond,
			MAC:       [6]byte{0x00, 0x30, 0xab, 0x29, 0xc5, 0xbe},
			SoC:       73, FullSOC: 80, BulkSOC: 80,
			DC:         true,
			MaxVoltage: Physical{3990, -1}, MaxCurrent: Physical{5000, -1}, MaxPower: pv(25000, 1),
			PreChargeVoltage: Physical{3577, -1}, PreChargeCurrent: Physical{1000, -3},
			DemandVoltage: Physical{3895, -1}, DemandCurrent: Physical{3000, -3}, // the first CurrentDemandReq
			RemainingFull: pv(0, -3), RemainingBulk: pv(0, -3),
			Quirks:   QuirkShortSessionID | QuirkConditioning | QuirkBulkComplete,
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			// A full car ends the session itself with SessionStop, as DIN
			// SPEC 70121 has the EV end a session; no capture of one exists.
			Name: "full", Car: "Hyundai Ioniq at 100 %",
			Source:    "the Ioniq's values with SoC 100 and EVEnergyRequest 0; the stop is a choice, not a capture",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1)},
			Think:     270 * time.Millisecond,
			MAC:       [6]byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc4},
			SoC:       100, FullSOC: 94, BulkSOC: 83,
			DC:       true,
			Capacity: pv(28000, 0), Request: pv(0, 0),
			MaxVoltage: Physical{4128, -1}, MaxCurrent: Physical{2000, -1}, MaxPower: pv(9800, 1),
			PreChargeVoltage: Physical{4128, -1}, PreChargeCurrent: Physical{10, -1},
			DemandVoltage: Physical{4128, -1}, DemandCurrent: Physical{10, -1},
			Quirks:   QuirkConditioning | QuirkBulkComplete | QuirkFull,
			AfterSoC: NeedsToggle, AfterSoCReport: reportIoniq,
		},
		{
			Name: "phev", Car: "plug-in hybrid (DC-capable, 13.8 kWh)",
			Source:    "no capture: PowerDelivery(stop) after ChargeParameterDiscovery as reported for hybrids; plausible values",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1)},
			MAC:       [6]byte{0x02, 0x48, 0x45, 0x56, 0x00, 0x01},
			SoC:       40, FullSOC: 100, BulkSOC: 90,
			DC:       true,
			Capacity: pv(13800, 0), Request: pv(8280, 0),
			MaxVoltage: Physical{3950, -1}, MaxCurrent: Physical{500, -1},
			PreChargeVoltage: Physical{3500, -1}, PreChargeCurrent: Physical{0, -1},
			DemandVoltage: Physical{3950, -1}, DemandCurrent: Physical{100, -1},
			Quirks:   QuirkStopAfterDiscovery,
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			Name: "ignores-shutdown", Car: "VW ID.4 (MEB) that ignores EVSE_Shutdown",
			Source:    "the ID.3's values; the behaviour from v2g.md (one VW model keeps asking after EVSE_Shutdown)",
			Protocols: []apphand.AppProtocolType{dinProto(1, 2), iso2Proto(0, 1)},
			Think:     120 * time.Millisecond,
			MAC:       [6]byte{0x00, 0x7d, 0xfa, 0x0a, 0x11, 0x22},
			RandomMAC: true,
			SoC:       61, FullSOC: -1, BulkSOC: -1,
			DC:         true,
			Request:    pv(7700, 0),
			MaxVoltage: Physical{4130, -1}, MaxCurrent: Physical{5000, -1},
			PreChargeVoltage: Physical{3700, -1}, PreChargeCurrent: Physical{20, -1},
			DemandVoltage: Physical{4130, -1}, DemandCurrent: Physical{0, -1},
			RemainingFull: pv(0, 1),
			MaxEntries:    192, ProfileMaxPower: pv(100, 2),
			Quirks:   QuirkShortSessionID | QuirkNoServiceCategory | QuirkIgnoreShutdown,
			AfterSoC: NeedsX1, AfterSoCReport: reportMEB,
		},
		{
			Name: "ac-only", Car: "Mercedes EQE offering ISO-2 only, AC",
			Source:    "EVerest mercedes-eqe_iso2-ac (EVCCID, AC values); the real EQE offers DIN too, and DC",
			Protocols: []apphand.AppProtocolType{iso2Proto(0, 1)},
			MAC:       [6]byte{0x00, 0x18, 0x23, 0x37, 0x23, 0x40},
			SoC:       -1, FullSOC: -1, BulkSOC: -1,
			MaxEntries: 12,
			AC: &AC{ThreePhase: true, EAmount: Physical{7300, 1}, MaxVoltage: Physical{230, 0},
				MaxCurrent: Physical{320, -1}, MinCurrent: Physical{0, 0}},
			Quirks:   QuirkShortSessionID | QuirkNoServiceCategory,
			AfterSoC: ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			// A car that refuses basic AC after any V2G session; WARP names
			// none, so its values are the EV6's under another MAC of the
			// EV6's block: a fixed MAC, as most cars but VW group's keep,
			// so the charger knows it at SLAC before its next session.
			Name: "refuses-ac", Car: "car that refuses AC after a V2G session (unnamed)",
			Source:    "the Kia EV6's values (EVerest kia-ev6_din-dc); the behaviour from WARP's report, cars unnamed",
			Protocols: []apphand.AppProtocolType{dinProto(1, 1), iso2Proto(2, 2)},
			Think:     80 * time.Millisecond,
			MAC:       [6]byte{0x04, 0xe7, 0x7e, 0x00, 0xf3, 0x99},
			SoC:       35, FullSOC: 100, BulkSOC: 80,
			DC:         true,
			MaxVoltage: Physical{8256, -1}, MaxCurrent: Physical{3100, -1},
			PreChargeVoltage: Physical{6954, -1}, PreChargeCurrent: Physical{10, -1},
			DemandVoltage: Physical{8256, -1}, DemandCurrent: Physical{0, -1},
			RemainingFull: pv(9960, 0), RemainingBulk: pv(6840, 0),
			MaxEntries: 12,
			Quirks:     QuirkConditioning | QuirkBulkComplete,
			AfterSoC:   RefusesUntilUnplug, AfterSoCReport: reportRefuseAC,
		},
		// No public capture shows a -20 AC session in the clear (the shared
		// ones are TLS): the values are a plausible 77 kWh car.
		iso20ACCar("iso20-ac", "77 kWh car speaking ISO 15118-20 AC (dynamic mode, EIM)",
			"no capture: ISO 15118-20 AC in dynamic mode as the standard has it; PresentSOC rises 1 % per AC_ChargeLoopReq", 0x01, false, false),
		// iso20-ac as -20 has it: over TLS 1.3 only.
		iso20ACCar("iso20-ac-tls", "77 kWh car speaking ISO 15118-20 AC over TLS 1.3 (dynamic mode, EIM)",
			"no capture in the clear: iso20-ac asking for TLS in SDP and speaking only TLS 1.3", 0x02, true, false),
		// iso20-ac in scheduled mode: it selects the charger's schedule
		// and charges at its power (up to its own 11 kW).
		iso20ACCar("iso20-ac-scheduled", "77 kWh car speaking ISO 15118-20 AC (scheduled mode, EIM)",
			"no capture: ISO 15118-20 AC in scheduled mode as the standard has it; PresentSOC rises 1 % per AC_ChargeLoopReq", 0x03, false, true),
		{
			// As iso20-ac: no capture in the clear; a plausible 77 kWh car
			// at 400 V that falls back to DIN.
			Name: "iso20-dc", Car: "77 kWh car speaking ISO 15118-20 DC (dynamic mode, EIM)",
			Source:    "no capture: ISO 15118-20 DC in dynamic mode as the standard has it; PresentSOC rises 1 % per DC_ChargeLoopReq",
			Protocols: []apphand.AppProtocolType{iso20DCProto(1, 1), dinProto(2, 2)},
			MAC:       [6]byte{0x02, 0x32, 0x30, 0x44, 0x43, 0x01},
			SoC:       30, FullSOC: -1, BulkSOC: -1,
			DC:       true,
			Capacity: pv(77, 3), Request: pv(40, 3),
			MaxVoltage: Physical{450, 0}, MaxCurrent: Physical{250, 0}, MaxPower: pv(100, 3),
			PreChargeVoltage: Physical{400, 0}, PreChargeCurrent: Physical{2, 0},
			DemandVoltage: Physical{400, 0}, DemandCurrent: Physical{100, 0},
			ISO20DC: &ISO20DC{MaxPower: Physical{100, 3}, MaxCurrent: Physical{250, 0}, MaxVoltage: Physical{450, 0}, MinVoltage: Physical{200, 0},
				Voltage: Physical{400, 0}, TargetSOC: 80, EnergyRequest: Physical{40, 3}, SoCStep: 1},
			LoopInterval: iso20LoopInterval,
			AfterSoC:     ChargesAfterCPOff, AfterSoCReport: reportMost,
		},
		{
			// It never talks: no protocols, no values; only the pilot.
			Name: "ioniq-phev", Car: "Hyundai Ioniq plug-in hybrid",
			Source: "no capture: it never talks; the behaviour from EVerest's logfiles (cars.md)",
			MAC:    [6]byte{0x02, 0x48, 0x59, 0x50, 0x48, 0x01},
			SoC:    -1, FullSOC: -1, BulkSOC: -1,
			AfterSoC: StopsAtDigital, AfterSoCReport: reportPHEV,
		},
		{
			Name: "zoe", Car: "Renault Zoe R/Q (AC-only charger)",
			Source: "no capture: it never starts SLAC (cars.md); older Zoe have no HLC at all",
			MAC:    [6]byte{0x02, 0x52, 0x5a, 0x4f, 0x45, 0x01},
			SoC:    -1, FullSOC: -1, BulkSOC: -1,
			AfterSoC: NeverSLAC, AfterSoCReport: reportZoe,
		},
	}
}

// ErrUnknownCar is matched (errors.Is) by the error of Lookup.
var ErrUnknownCar = errors.New("evcc: unknown car")

// UnknownCarError tells which name Lookup did not know and which it does.
type UnknownCarError struct {
	Name  string
	Known []string
}

// Error names the unknown car and lists the known ones.
func (e *UnknownCarError) Error() string {
	return fmt.Sprintf("evcc: unknown car %q; choose one of %s", e.Name, strings.Join(e.Known, ", "))
}

// Is makes errors.Is(err, ErrUnknownCar) true.
func (e *UnknownCarError) Is(target error) bool { return target == ErrUnknownCar }

// Lookup returns the profile called name.
func Lookup(name string) (Profile, error) {
	var known []string
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
		known = append(known, p.Name)
	}
	return Profile{}, &UnknownCarError{Name: name, Known: known}
}

// SessionMAC returns the MAC (and EVCCID) the car uses in a new session:
// MAC, or for RandomMAC cars MAC's first three bytes and three fresh ones.
func (p Profile) SessionMAC() [6]byte {
	m := p.MAC
	if p.RandomMAC {
		rand.Read(m[3:])
	}
	return m
}

// SLACRunID returns the RunID of a new SLAC attempt: the profile's, or 8
// random bytes.
func (p Profile) SLACRunID() [8]byte {
	var id [8]byte
	if p.RunID != "" {
		copy(id[:], p.RunID)
	} else {
		rand.Read(id[:])
	}
	return id
}
