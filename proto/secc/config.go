package secc

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// PolicyName names one of the built-in policies (NewPolicy) for the
// command line and the configuration.
type PolicyName uint8

// Policies.
const (
	// PolicySoC answers as a DC charger until the car has sent its state of
	// charge, then ends the DC attempt so that the car accepts AC charging.
	PolicySoC PolicyName = iota
	// PolicyDC runs a complete emulated DC session, for tests and benches.
	PolicyDC
	// PolicyAC runs a complete ISO 15118-2 AC session (EVCCID, no SoC); a
	// car that speaks only DIN gets the soc flow.
	PolicyAC
)

var policyNames = [...]string{"soc", "dc", "ac"}

// String returns the policy's name as the command line spells it.
func (p PolicyName) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("PolicyName(%d)", uint8(p))
}

// ParsePolicy reads a policy name: soc, dc or ac.
func ParsePolicy(s string) (PolicyName, error) {
	for i, n := range policyNames {
		if n == s {
			return PolicyName(i), nil
		}
	}
	return 0, &PolicyError{Name: s}
}

// PolicyError reports an unknown policy name.
type PolicyError struct{ Name string }

func (e *PolicyError) Error() string {
	return fmt.Sprintf("unknown policy %q: use soc, dc or ac", e.Name)
}

// Protocol is one of the V2G protocols the charger speaks.
type Protocol uint8

// Protocols.
const (
	ProtocolNone Protocol = iota
	ProtocolDIN           // DIN SPEC 70121 (and Tesla's namespace for it)
	ProtocolISO2          // ISO 15118-2:2013
	// ProtocolISO20 is ISO 15118-20 AC or DC with EIM (the car offers
	// urn:iso:std:iso:15118:-20:AC or :DC; its CommonMessages come with
	// it; of both, the car's priority decides). Only negotiated when
	// Config.Preference lists it.
	ProtocolISO20
	// ProtocolISO20AC and ProtocolISO20DC rank one of -20's energy
	// transfers in Config.Preference (ProtocolISO20 ranks both, by the
	// car's priority); what they negotiate is a ProtocolISO20 session.
	ProtocolISO20AC
	ProtocolISO20DC
)

// String returns "din", "iso2" or "iso20".
func (p Protocol) String() string {
	switch p {
	case ProtocolDIN:
		return "din"
	case ProtocolISO2:
		return "iso2"
	case ProtocolISO20:
		return "iso20"
	case ProtocolISO20AC:
		return "iso20-ac"
	case ProtocolISO20DC:
		return "iso20-dc"
	}
	return "none"
}

// PreferenceISO20 is the preference of a charger that serves ISO 15118-20
// too: ranked below DIN and ISO-2 (in the policy's order of them), as a car
// offering -20 today offers -2 or DIN as well; first puts -20 ahead of
// both, for a charger that wants the SoC of a -20 AC loop.
//
// Of -20's two energy transfers an AC charger takes AC: its loop tells the
// SoC with nothing at the inlet, where -20 DC tells it only in the loop,
// after a precharge to the car's voltage that a car measuring its inlet
// never sees. So under soc and ac, -20 DC ranks last, below DIN and ISO-2,
// whose parameter discovery carries the SoC. The dc policy emulates a DC
// charger and serves no AC: it ranks -20 DC where -20 goes, and AC last.
func PreferenceISO20(policy PolicyName, first bool) []Protocol {
	p := Config{Policy: policy}.withDefaults().Preference
	ours, other := ProtocolISO20AC, ProtocolISO20DC
	if policy == PolicyDC {
		ours, other = other, ours
	}
	if first {
		return append(append([]Protocol{ours}, p...), other)
	}
	return append(p, ours, other)
}

// Limits are the charger's DC limits as it announces them.
type Limits struct {
	MaxVoltageV, MinVoltageV float64
	MaxCurrentA, MinCurrentA float64
	MaxPowerW                float64
	PeakCurrentRippleA       float64
}

// DefaultLimits are plausible limits of a small DC charger; the soc policy
// never delivers energy, so they only have to convince the car.
var DefaultLimits = Limits{MaxVoltageV: 500, MinVoltageV: 150, MaxCurrentA: 125, MinCurrentA: 0, MaxPowerW: 50000, PeakCurrentRippleA: 2}

// Timers named as ISO 15118-2 and DIN 70121 name them.
const (
	// V2G_SECC_Sequence_Timeout is the longest the charger waits for the car's next request.
	V2G_SECC_Sequence_Timeout = 60 * time.Second
	// V2G_SECC_CommunicationSetup_Performance_Time is the longest from TCP to the SessionSetupReq... DIN allows 20 s from link up.
	V2G_SECC_CommunicationSetup_Performance_Time = 20 * time.Second
)

// DefaultMaxOngoing is how many Ongoing answers a car that ignores
// EVSE_Shutdown gets before FAILED (an AC wallbox firmware uses 10).
const DefaultMaxOngoing = 10

// Config configures the charger's sessions; the zero value is a soc-policy
// charger that prefers DIN, then ISO-2.
type Config struct {
	// Policy is the policy of every session that ChoosePolicy leaves alone.
	Policy PolicyName
	// ChoosePolicy, if set, picks the policy of a session when the car
	// identifies itself (SessionSetupReq), from what the daemon knows of
	// it; nil, or a nil result, means NewPolicy(Policy). Sessions of
	// several connections may call it at once. The handshake before it
	// follows Preference, which Policy sets.
	ChoosePolicy func(car CarInfo) Policy
	// Decline, if set, is asked at each SupportedAppProtocolReq whether to
	// decline the car on the connection info: it is answered
	// Failed_NoNegotiation whatever it offers, the path of IEC 61851-1 to
	// basic AC charging without a V2G session, and the session ends
	// (record.EndNoNegotiation once the car closes). Called from the
	// connection's goroutine.
	Decline func(info ConnInfo) bool
	// Preference lists the protocols in the order the charger prefers them;
	// nil means DIN, then ISO-2 (the ac policy: ISO-2, then DIN). ISO 15118-20
	// is served only when listed (PreferenceISO20).
	Preference []Protocol
	// EVSEID identifies the charger: DIN sends it as bytes (a hex string
	// here, e.g. "00"), ISO-2 as text such as "DE*ABC*E1234"; "" means ZZ00000.
	EVSEID string
	// Limits are the DC limits announced; the zero value means DefaultLimits.
	Limits Limits
	// MaxOngoing bounds the Ongoing answers after EVSE_Shutdown; zero means DefaultMaxOngoing.
	MaxOngoing int
	// SequenceTimeout overrides V2G_SECC_Sequence_Timeout.
	SequenceTimeout time.Duration
	// CableCheckTime and PreChargeTime make the dc policy as slow as a
	// real DC charger, to test how a car waits: CableCheck is answered
	// Ongoing until CableCheckTime has passed since the first
	// CableCheckReq, and the output voltage rises linearly from 0 to the
	// car's target over PreChargeTime from the first PreChargeReq. Zero
	// keeps the quick emulation: one Ongoing answer, 150 V per PreChargeReq.
	CableCheckTime, PreChargeTime time.Duration
	// NewSessionID draws a SessionID; nil means 8 random non-zero bytes.
	NewSessionID func() [8]byte
	// Log receives the sessions' details (at debug level every request).
	Log *slog.Logger
	// Tap, if set, sees every V2GTP message of the TCP sessions, header
	// included, in each direction (recordings). It must not keep msg.
	Tap func(at time.Time, fromCar bool, car, charger netip.AddrPort, msg []byte)
	// Owner decides which connections are the car's (Server); nil means
	// every one is, the newest replacing the older.
	Owner Owner
	// MaxConns bounds the Server's connections open at once; zero means DefaultMaxConns.
	MaxConns int
}

func (c Config) withDefaults() Config {
	if c.Preference == nil {
		if c.Policy == PolicyAC {
			// DIN has no AC: a DIN-only car gets the soc flow, so that its
			// EVCCID and SoC still reach the charger.
			c.Preference = []Protocol{ProtocolISO2, ProtocolDIN}
		} else {
			c.Preference = []Protocol{ProtocolDIN, ProtocolISO2}
		}
	}
	if c.EVSEID == "" {
		c.EVSEID = "ZZ00000"
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxOngoing == 0 {
		c.MaxOngoing = DefaultMaxOngoing
	}
	if c.SequenceTimeout == 0 {
		c.SequenceTimeout = V2G_SECC_Sequence_Timeout
	}
	if c.NewSessionID == nil {
		c.NewSessionID = RandomSessionID
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// RandomSessionID returns 8 random bytes that are not all zero (zero asks for a new session).
func RandomSessionID() [8]byte {
	var id [8]byte
	for id == ([8]byte{}) {
		rand.Read(id[:])
	}
	return id
}
