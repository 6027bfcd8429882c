package smartevse

import (
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// ioniq is what the Hyundai Ioniq in the pyPLC capture
// 2023-05-24_pyPlc_with_Ioniq93prcSoc sent (DIN): SoC 93 %, FullSOC 94,
// EVEnergyCapacity 28000 Wh, no EVEnergyRequest; its EVCCID is the one the
// README decodes.
var ioniq = State{SoC: 93, FullSoC: 94, EnergyCapacity: 28000, EnergyRequest: -1, EVCCID: "0465650064c3"}

func TestQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   State
		want string
	}{
		{"unknown", Unknown(), "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1"},
		{"ioniq", ioniq, "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=-1&evccid=0465650064c3"},
		{"zero value is a real 0 %", State{}, "current_soc=0&full_soc=0&energy_capacity=0&energy_request=0"},
		{"evccid only", State{SoC: -1, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0465650064c3"},
			"current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=0465650064c3"},
		{"uppercase lowered", State{SoC: 57, FullSoC: 100, EnergyCapacity: 77000, EnergyRequest: 33000, EVCCID: "0465650064C3"},
			"current_soc=57&full_soc=100&energy_capacity=77000&energy_request=33000&evccid=0465650064c3"},
		{"40 chars cut to 31", State{SoC: 5, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0123456789ABCDEF0123456789abcdef01234567"},
			"current_soc=5&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=0123456789abcdef0123456789abcde"},
		{"31 chars kept", State{SoC: 5, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "0123456789abcdef0123456789abcde"},
			"current_soc=5&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=0123456789abcdef0123456789abcde"},
		{"out of range sent as unknown", State{SoC: 101, FullSoC: -5, EnergyCapacity: 1 << 40, EnergyRequest: math.MaxInt32},
			"current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=2147483647"},
		{"separators escaped", State{SoC: 50, FullSoC: -1, EnergyCapacity: -1, EnergyRequest: -1, EVCCID: "ab&current_soc=0"},
			"current_soc=50&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=ab%26current_soc%3D0"},
		{"cut on a rune boundary", State{SoC: 1, FullSoC: 2, EnergyCapacity: 3, EnergyRequest: 4, EVCCID: strings.Repeat("É", 16)},
			"current_soc=1&full_soc=2&energy_capacity=3&energy_request=4&evccid=" + strings.Repeat("%C3%89", 15)},
		{"space and plus encoded", State{SoC: 1, FullSoC: 2, EnergyCapacity: 3, EnergyRequest: 4, EVCCID: "a b+c\x00\xff"},
			"current_soc=1&full_soc=2&energy_capacity=3&energy_request=4&evccid=a%20b%2Bc%00%FF"},
	} {
		if got := Query(tc.st); got != tc.want {
			t.Errorf("%s: Query(%+v)\n got %s\nwant %s", tc.name, tc.st, got, tc.want)
		}
	}
}

// firmwareReads checks q as the firmware parses it: the four numbers always
// present, in order, as plain integers it takes; evccid last and at most 31
// bytes once unescaped; nothing else.
func firmwareReads(t *testing.T, st State, q string) {
	t.Helper()
	n := normalize(st)
	parts := strings.Split(q, "&")
	names := []string{"current_soc", "full_soc", "energy_capacity", "energy_request", "evccid"}
	want := []int{n.SoC, n.FullSoC, n.EnergyCapacity, n.EnergyRequest}
	if len(parts) != 4+min(len(n.EVCCID), 1) {
		t.Fatalf("Query(%+v) = %q: %d parameters", st, q, len(parts))
	}
	for i, p := range parts {
		name, val, ok := strings.Cut(p, "=")
		if !ok || name != names[i] {
			t.Fatalf("Query(%+v) = %q: parameter %d is %q, want %s=", st, q, i, p, names[i])
		}
		if strings.ContainsAny(val, "&=#+ ?") {
			t.Fatalf("Query(%+v) = %q: %s value %q has a character the firmware splits on", st, q, name, val)
		}
		if i == 4 {
			id, err := url.QueryUnescape(val)
			if err != nil || id != n.EVCCID || len(id) > MaxEVCCID || strings.ContainsAny(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("Query(%+v) = %q: evccid %q reads as %q (%v)", st, q, val, id, err)
			}
			continue
		}
		v, err := strconv.ParseInt(val, 10, 32)
		if err != nil || int(v) != want[i] {
			t.Fatalf("Query(%+v) = %q: %s reads as %d (%v), want %d", st, q, name, v, err, want[i])
		}
		limit := int64(math.MaxInt32)
		if i < 2 {
			limit = 100
		}
		if v < -1 || v > limit {
			t.Fatalf("Query(%+v) = %q: %s=%d is outside what the firmware takes", st, q, name, v)
		}
	}
	if _, err := url.ParseQuery(q); err != nil {
		t.Fatalf("Query(%+v) = %q: %v", st, q, err)
	}
}

func TestQueryFirmwareReadsRandomStates(t *testing.T) {
	r := rand.New(rand.NewPCG(15118, 70121))
	edges := []int{math.MinInt, -1000, -2, -1, 0, 1, 50, 99, 100, 101, 28000, math.MaxInt32, math.MaxInt32 + 1, math.MaxInt}
	num := func() int {
		if r.IntN(2) == 0 {
			return edges[r.IntN(len(edges))]
		}
		return int(r.Int64()) >> r.IntN(64)
	}
	for range 20000 {
		id := make([]byte, r.IntN(48))
		for i := range id {
			id[i] = byte(r.IntN(256))
		}
		st := State{SoC: num(), FullSoC: num(), EnergyCapacity: num(), EnergyRequest: num(), EVCCID: string(id)}
		firmwareReads(t, st, Query(st))
	}
}

func FuzzQuery(f *testing.F) {
	f.Add(93, 94, 28000, -1, "0465650064c3")
	f.Add(-1, -1, -1, -1, "")
	f.Add(101, 0, math.MaxInt32+1, -7, "0123456789ABCDEF0123456789abcdef01234567")
	f.Add(50, 100, 0, 0, "a&b=c d#é")
	f.Fuzz(func(t *testing.T, soc, full, capacity, request int, id string) {
		st := State{SoC: soc, FullSoC: full, EnergyCapacity: capacity, EnergyRequest: request, EVCCID: id}
		firmwareReads(t, st, Query(st))
	})
}

func TestMemorySendRule(t *testing.T) {
	u := func(mod func(*State)) State {
		s := Unknown()
		mod(&s)
		return s
	}
	m := newMemory()
	for i, step := range []struct {
		st   State
		send bool
		best State
	}{
		// The EVCCID comes first (SessionSetupReq): held back, no SoC yet.
		{u(func(s *State) { s.EVCCID = "0465650064C3" }), false,
			State{-1, -1, -1, -1, "0465650064c3"}},
		{Unknown(), false, State{-1, -1, -1, -1, "0465650064c3"}},
		// ChargeParameterDiscoveryReq: the first known SoC is sent.
		{State{93, 94, 28000, -1, ""}, true, State{93, 94, 28000, -1, "0465650064c3"}},
		{State{93, 94, 28000, -1, ""}, false, State{93, 94, 28000, -1, "0465650064c3"}},
		// What the firmware would not store is no news: unknown, lower
		// energies and FullSOC (they only go up), values out of range.
		{Unknown(), false, State{93, 94, 28000, -1, "0465650064c3"}},
		{State{-1, 0, 0, -1, ""}, false, State{93, 94, 28000, -1, "0465650064c3"}},
		{State{-1, 90, 27000, -1, ""}, false, State{93, 94, 28000, -1, "0465650064c3"}},
		{State{200, 101, -9, -1, ""}, false, State{93, 94, 28000, -1, "0465650064c3"}},
		// A known value replaces unknown; a newer SoC replaces the older.
		{u(func(s *State) { s.EnergyRequest = 1500 }), true, State{93, 94, 28000, 1500, "0465650064c3"}},
		{u(func(s *State) { s.SoC = 94 }), true, State{94, 94, 28000, 1500, "0465650064c3"}},
		{u(func(s *State) { s.EnergyCapacity = 28500 }), true, State{94, 94, 28500, 1500, "0465650064c3"}},
		{u(func(s *State) { s.EVCCID = "0465650064c3" }), false, State{94, 94, 28500, 1500, "0465650064c3"}},
		// A lower SoC is the SoC (the record decided it counts), and the
		// firmware takes it; its lower FullSOC and capacity it would not.
		{State{90, 93, 28000, 1500, ""}, true, State{90, 94, 28500, 1500, "0465650064c3"}},
		// So is a 0 %: the record never gives one over a real SoC, so it is real.
		{State{0, -1, -1, -1, ""}, true, State{0, 94, 28500, 1500, "0465650064c3"}},
	} {
		if got := m.update(step.st); got != step.send || m.best != step.best {
			t.Fatalf("step %d: update(%+v) = %v, best %+v; want %v, %+v", i, step.st, got, m.best, step.send, step.best)
		}
	}
	if m.flush() {
		t.Fatal("flush after everything was sent: want nothing to send")
	}

	// A car that never gives a SoC: its EVCCID and energies wait for flush.
	m = newMemory()
	if m.flush() {
		t.Fatal("flush with nothing known: want nothing to send")
	}
	if m.update(State{-1, -1, 28000, -1, "0465650064c3"}) {
		t.Fatal("update without SoC: want held back")
	}
	if !m.flush() || m.best != (State{-1, -1, 28000, -1, "0465650064c3"}) {
		t.Fatalf("flush: want the held state sent, best %+v", m.best)
	}
	if m.flush() {
		t.Fatal("second flush: want nothing to send")
	}
	if !m.update(State{0, -1, -1, -1, ""}) || m.best.SoC != 0 {
		t.Fatalf("a real 0 %% over unknown: want sent, best %+v", m.best)
	}
	if !m.update(State{12, -1, -1, -1, ""}) || m.best.SoC != 12 {
		t.Fatalf("12 %% over 0 %%: want sent, best %+v", m.best)
	}
}

func BenchmarkQuery(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = appendQuery(buf[:0], ioniq)
	}
	if string(buf) != "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=-1&evccid=0465650064c3" {
		b.Fatalf("appendQuery = %s", buf)
	}
}
