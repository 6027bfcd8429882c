package charger

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
)

// maxHeard bounds the SDP sources remembered per plug-in; more than that
// is a flood, and then only the car's MAC-derived address is trusted.
const maxHeard = 16

// owner knows which link-local address is the plug-in's car: the V2G
// server serves only its connections (secc.Owner) and the SDP server
// answers it first.
//
// The car's address is:
//  1. the modified EUI-64 link-local address of the MAC that SLAC matched,
//     which every real car in the captures uses;
//  2. for a car whose link-local address is not derived from its MAC (a
//     Linux host with stable-privacy addresses, as car simulators are),
//     the first SDP source whose first request in this plug-in came after
//     the CM_SLAC_MATCH.CNF. A car cannot reach the charger before its
//     modem joined the freshly keyed network; a stranger who asked before
//     is known as one and never learnt. Nothing is learnt once the EUI-64
//     address has asked (the car is that one: a learnt address is then
//     forgotten), nor when more than maxHeard sources asked in the plug-in.
//
// Before the match every connection's verdict is secc.Pending; after it,
// anyone but the car is a stranger.
type owner struct {
	now func() time.Time
	log *slog.Logger

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when a verdict may change
	matched  bool
	matchCnf time.Time // zero when SLAC gave no time: every request counts as after
	eui64    netip.Addr
	learnt   netip.Addr
	euiAsked bool
	heard    map[netip.Addr]time.Time // each source's first SDP request this plug-in
	crowded  bool
	mac      homeplug.MAC
}

func newOwner(now func() time.Time, log *slog.Logger) *owner {
	return &owner{now: now, log: log, changed: make(chan struct{}), heard: make(map[netip.Addr]time.Time)}
}

// linkLocal returns the modified EUI-64 link-local address of mac (RFC 4291 appendix A).
func linkLocal(mac homeplug.MAC) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 8: mac[0] ^ 2, 9: mac[1], 10: mac[2], 11: 0xff, 12: 0xfe, 13: mac[3], 14: mac[4], 15: mac[5]})
}

// reset forgets the last plug-in's car.
func (o *owner) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.matched, o.matchCnf, o.eui64, o.learnt, o.euiAsked, o.crowded, o.mac = false, time.Time{}, netip.Addr{}, netip.Addr{}, false, false, homeplug.MAC{}
	clear(o.heard)
	o.signal()
}

// match takes the car SLAC matched: its MAC, and the sources that asked by
// SDP since its CM_SLAC_MATCH.CNF (the car's first request can come before
// Match returns: it is the evidence of the link).
func (o *owner) match(r slac.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.matched, o.mac, o.eui64 = true, r.EVMAC, linkLocal(r.EVMAC)
	if !r.Timings.Start.IsZero() {
		o.matchCnf = r.Timings.Start.Add(r.Timings.MatchCnf)
	}
	_, o.euiAsked = o.heard[o.eui64]
	if !o.euiAsked && !o.crowded {
		var first time.Time
		for a, at := range o.heard {
			if !at.Before(o.matchCnf) && (!o.learnt.IsValid() || at.Before(first)) {
				o.learnt, first = a, at
			}
		}
		if o.learnt.IsValid() {
			o.logLearnt()
		}
	}
	o.signal()
}

// asked notes an SDP request from a and reports whether it is the car's.
func (o *owner) asked(a netip.Addr) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.heard[a]; !ok {
		if len(o.heard) < maxHeard {
			o.heard[a] = o.now()
			if o.matched && !o.euiAsked && !o.crowded && !o.learnt.IsValid() && a != o.eui64 {
				o.learnt = a
				o.logLearnt()
				o.signal()
			}
		} else if !o.crowded {
			o.crowded = true
			o.log.Warn("many hosts ask for the charger by SDP; only the car's MAC-derived address counts as the car's", "sources", maxHeard+1)
		}
	}
	if o.matched && a == o.eui64 && !o.euiAsked {
		o.euiAsked = true
		if o.learnt.IsValid() {
			o.log.Warn("the car asks from its MAC-derived address; the address learnt before was not the car's", "car", a, "forgotten", o.learnt)
			o.learnt = netip.Addr{}
			o.signal()
		}
	}
	return o.matched && (a == o.eui64 || a == o.learnt)
}

func (o *owner) logLearnt() {
	o.log.Info("the car asks from a link-local address not derived from its MAC; it is the car's for this plug-in", "car", o.mac.String(), "addr", o.learnt)
}

// Verdict says whose a V2G connection from a is.
func (o *owner) Verdict(a netip.Addr) secc.Verdict {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !o.matched:
		return secc.Pending
	case a == o.eui64 || a == o.learnt:
		return secc.Car
	}
	return secc.Stranger
}

// Changed returns a channel closed when a verdict may change.
func (o *owner) Changed() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *owner) signal() {
	close(o.changed)
	o.changed = make(chan struct{})
}
