package charger

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
)

func TestLinkLocal(t *testing.T) {
	// The Ioniq of the pyPLC capture asks from fe80::665:65ff:fe00:64c3.
	if got := linkLocal(homeplug.MAC{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}); got != netip.MustParseAddr("fe80::665:65ff:fe00:64c3") {
		t.Fatalf("linkLocal = %v", got)
	}
}

// TestOwner: who the car is, as the V2G and SDP servers are told.
func TestOwner(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := t0
	o := newOwner(func() time.Time { return now }, slog.New(slog.DiscardHandler))
	mac := homeplug.MAC{0x02, 0xcc, 0, 0, 0, 0x0b}
	eui := netip.MustParseAddr("fe80::cc:ff:fe00:b")
	early := netip.MustParseAddr("fe80::bad")         // a stranger who asks before the match
	privacy := netip.MustParseAddr("fe80::1234:5678") // the car, with a stable-privacy address
	late := netip.MustParseAddr("fe80::beef")         // someone else, after the car
	// CM_SLAC_MATCH.CNF at t0+1s; Match returns at t0+2s, on the car's SDP request as evidence.
	res := slac.Result{EVMAC: mac, Timings: slac.Timings{Start: t0, MatchCnf: time.Second}}

	verdicts := func(step string, want map[netip.Addr]secc.Verdict) {
		t.Helper()
		for a, v := range want {
			if got := o.Verdict(a); got != v {
				t.Errorf("%s: verdict on %v = %v, want %v", step, a, got, v)
			}
		}
	}
	changed := o.Changed()
	if o.asked(early) {
		t.Error("a request before any match is the car's")
	}
	verdicts("before the match", map[netip.Addr]secc.Verdict{early: secc.Pending, eui: secc.Pending})
	now = t0.Add(1500 * time.Millisecond)
	o.asked(early)
	o.asked(privacy)
	select {
	case <-changed:
		t.Error("verdicts changed before the match")
	default:
	}
	now = t0.Add(2 * time.Second)
	o.match(res)
	select {
	case <-changed:
	default:
		t.Error("the match did not wake the waiting connections")
	}
	verdicts("matched", map[netip.Addr]secc.Verdict{early: secc.Stranger, privacy: secc.Car, eui: secc.Car, late: secc.Stranger})
	if o.asked(late) || !o.asked(privacy) || o.asked(early) {
		t.Error("SDP favours someone other than the car")
	}
	verdicts("after others asked", map[netip.Addr]secc.Verdict{privacy: secc.Car, late: secc.Stranger})

	// The car's MAC-derived address asks: the learnt one was not the car.
	if !o.asked(eui) {
		t.Error("the car's MAC-derived address is not favoured")
	}
	verdicts("the EUI-64 address asked", map[netip.Addr]secc.Verdict{privacy: secc.Stranger, eui: secc.Car})

	// The next plug-in: nobody is the car until its match.
	o.reset()
	verdicts("reset", map[netip.Addr]secc.Verdict{eui: secc.Pending, privacy: secc.Pending})

	// A flood from many sources, through the match: no address is learnt,
	// only the MAC-derived one is the car's.
	flood := func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0xfe, 0x80, 14: byte(i >> 8), 15: byte(i)}) }
	now = t0.Add(10 * time.Second)
	for i := range 1000 {
		o.asked(flood(i))
	}
	now = t0.Add(12 * time.Second)
	o.match(slac.Result{EVMAC: mac, Timings: slac.Timings{Start: t0.Add(10 * time.Second), MatchCnf: time.Second}})
	for i := 1000; i < 2000; i++ {
		if o.asked(flood(i)) {
			t.Fatalf("flood source %v is favoured", flood(i))
		}
	}
	o.asked(privacy)
	verdicts("flood", map[netip.Addr]secc.Verdict{flood(0): secc.Stranger, flood(1000): secc.Stranger, privacy: secc.Stranger, eui: secc.Car})
	if len(o.heard) != maxHeard {
		t.Errorf("%d sources remembered", len(o.heard))
	}
}
