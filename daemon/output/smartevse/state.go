package smartevse

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// State is what the car told the charger, in SmartEVSE's units; -1 means unknown.
type State struct {
	SoC            int    // current state of charge, percent
	FullSoC        int    // state of charge the car calls full, percent
	EnergyCapacity int    // battery capacity, Wh (the PhysicalValue multiplier already applied)
	EnergyRequest  int    // energy the car asks for, Wh (multiplier applied)
	EVCCID         string // lowercase hex, no separators, e.g. "0465650064c3"
}

// Unknown returns a State with every number -1 and no EVCCID.
func Unknown() State {
	return State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1}
}

// MaxEVCCID is the longest EVCCID sent: the firmware keeps it in a 32-byte C string.
const MaxEVCCID = 31

// normalize makes s what the firmware can take: a percentage outside
// 0..100 or an energy that is negative or beyond the firmware's int becomes
// -1 (a value the firmware stores would otherwise stick until unplug), and
// the EVCCID's A-Z are lowercased and it is cut to MaxEVCCID bytes (on a
// UTF-8 boundary).
func normalize(s State) State {
	pct := func(v int) int {
		if v < 0 || v > 100 {
			return -1
		}
		return v
	}
	wh := func(v int) int {
		if v < 0 || v > math.MaxInt32 {
			return -1
		}
		return v
	}
	id := lowerASCII(s.EVCCID)
	if len(id) > MaxEVCCID {
		n := MaxEVCCID
		for n > 0 && !utf8.RuneStart(id[n]) {
			n--
		}
		id = id[:n]
	}
	return State{SoC: pct(s.SoC), FullSoC: pct(s.FullSoC), EnergyCapacity: wh(s.EnergyCapacity), EnergyRequest: wh(s.EnergyRequest), EVCCID: id}
}

// Query returns the exact query string posted for s: current_soc, full_soc,
// energy_capacity and energy_request always, in that order and -1 when
// unknown (a missing one reads as 0 in the firmware), then evccid when there
// is one, lowercased, cut to MaxEVCCID bytes and percent-encoded. Values the firmware
// cannot take (a percentage outside 0..100, a negative energy or one beyond
// 32 bits) are sent as -1.
func Query(s State) string {
	return string(appendQuery(make([]byte, 0, 128), s))
}

func appendQuery(b []byte, s State) []byte {
	s = normalize(s)
	b = append(b, "current_soc="...)
	b = strconv.AppendInt(b, int64(s.SoC), 10)
	b = append(b, "&full_soc="...)
	b = strconv.AppendInt(b, int64(s.FullSoC), 10)
	b = append(b, "&energy_capacity="...)
	b = strconv.AppendInt(b, int64(s.EnergyCapacity), 10)
	b = append(b, "&energy_request="...)
	b = strconv.AppendInt(b, int64(s.EnergyRequest), 10)
	if s.EVCCID != "" {
		b = append(b, "&evccid="...)
		b = appendEscaped(b, s.EVCCID)
	}
	return b
}

// lowerASCII lowercases A-Z only: the firmware compares bytes, and other
// bytes must pass unchanged (strings.ToLower would replace invalid UTF-8).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// appendEscaped percent-encodes every byte but the unreserved ones, so no
// '+', '&' or '=' reaches the firmware's query parser.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// memory is what the SmartEVSE holds of the plugged-in car once the
// states handed on are posted, and whether some of it has not been handed
// on for delivery yet.
//
// Which of the car's values counts is the record's rule (record.Values):
// the sender posts what the record says, and adds only the firmware's own
// contract, so that every query states what the SmartEVSE then holds:
//   - current_soc: any SoC in 0..100 replaces the one held, a lower one
//     too; -1 (unknown) is ignored;
//   - full_soc, energy_capacity, energy_request are stored only when they
//     are at least the value held ("only ever go up" until unplug), so a
//     lower one is not news: the highest is posted;
//   - evccid replaces the one held when sent.
type memory struct {
	best State // what the firmware holds after every state handed on
	held bool  // best has values not handed on: no SoC yet
}

func newMemory() memory { return memory{best: Unknown()} }

// update merges st by the firmware's contract and reports whether best is
// now to be sent: it changed and its SoC is known.
func (m *memory) update(st State) bool {
	st = normalize(st)
	next := State{
		SoC:            m.best.SoC,
		FullSoC:        max(m.best.FullSoC, st.FullSoC),
		EnergyCapacity: max(m.best.EnergyCapacity, st.EnergyCapacity),
		EnergyRequest:  max(m.best.EnergyRequest, st.EnergyRequest),
		EVCCID:         m.best.EVCCID,
	}
	if st.SoC >= 0 {
		next.SoC = st.SoC
	}
	if st.EVCCID != "" {
		next.EVCCID = st.EVCCID
	}
	if next == m.best {
		return false
	}
	m.best = next
	if next.SoC < 0 {
		m.held = true
		return false
	}
	m.held = false
	return true
}

// flush reports whether best has values that update held back.
func (m *memory) flush() bool {
	h := m.held
	m.held = false
	return h
}
