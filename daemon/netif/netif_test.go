package netif

import (
	"net/netip"
	"testing"
	"time"
)

// TestUsable: the first reason that applies, and the lowest usable address.
func TestUsable(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	ll2 := netip.MustParseAddr("fe80::2")
	for _, c := range []struct {
		name  string
		st    state
		want  Reason
		addr  netip.Addr
		ready netip.Addr
	}{
		{"missing", state{}, Missing, netip.Addr{}, netip.Addr{}},
		{"down", state{index: 3}, Down, netip.Addr{}, netip.Addr{}},
		{"no carrier", state{index: 3, up: true}, NoCarrier, netip.Addr{}, netip.Addr{}},
		{"no link-local", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{4: {ll: 0}}}, NoLinkLocal, netip.Addr{}, netip.Addr{}},
		{"tentative", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{3: {ll: flagTentative}}}, Tentative, ll, netip.Addr{}},
		{"tentative before failed", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{3: {ll: flagDADFailed, ll2: flagTentative}}}, Tentative, ll2, netip.Addr{}},
		{"failed", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{3: {ll: flagDADFailed}}}, DADFailed, ll, netip.Addr{}},
		{"ready", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{3: {ll2: 0x80, ll: 0x80}}}, 0, netip.Addr{}, ll},
		{"one of two tentative", state{index: 3, up: true, carrier: true, lls: map[int]map[netip.Addr]uint32{3: {ll: flagTentative, ll2: 0}}}, 0, netip.Addr{}, ll2},
	} {
		l, why := c.st.usable("plc0")
		if c.want == 0 {
			if why != nil || l.LinkLocal != c.ready.WithZone("plc0") || l.Index != 3 || l.Name != "plc0" {
				t.Errorf("%s: %+v %v", c.name, l, why)
			}
			continue
		}
		if why == nil || why.Reason != c.want || why.Addr != c.addr || why.Name != "plc0" || l.Index != 0 {
			t.Errorf("%s: %+v %+v, want %v %v", c.name, l, why, c.want, c.addr)
		}
	}
}

// TestNotReadyError: each reason says what to do, naming the interface.
func TestNotReadyError(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1%plc0")
	for _, c := range []struct {
		e    NotReadyError
		want string
	}{
		{NotReadyError{Name: "plc0", Reason: Missing, Waited: 30 * time.Second},
			"plc0 not usable after 30s: there is no interface plc0 (is the modem's driver loaded? `ip link` lists the interfaces)"},
		{NotReadyError{Name: "plc0", Reason: Down},
			"plc0 is down: bring it up (`ip link set plc0 up`, or in the network configuration)"},
		{NotReadyError{Name: "plc0", Reason: NoCarrier},
			"plc0 is up but has no link below it (no carrier): is the modem powered and answering its driver?"},
		{NotReadyError{Name: "plc0", Reason: NoLinkLocal},
			"plc0 has no IPv6 link-local address: enable IPv6 on it (sysctl net.ipv6.conf.plc0.disable_ipv6=0, and addr_gen_mode other than 1)"},
		{NotReadyError{Name: "plc0", Reason: Tentative, Addr: ll, Waited: 10 * time.Second},
			"plc0 not usable after 10s: plc0's link-local address fe80::1 is still tentative (duplicate address detection has not finished); if this lasts, turn detection off for it: sysctl net.ipv6.conf.plc0.accept_dad=0"},
		{NotReadyError{Name: "plc0", Reason: DADFailed, Addr: ll},
			"plc0's link-local address fe80::1 failed duplicate address detection: another host on the link has it (the same MAC address?); give plc0 another MAC address, or turn detection off (sysctl net.ipv6.conf.plc0.accept_dad=0) and set it down and up"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%v:\n got %s\nwant %s", c.e.Reason, got, c.want)
		}
	}
}
