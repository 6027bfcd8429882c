package charger

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// sdpFlood returns SDP requests to ff02::1 from sources distinct
// link-local addresses that no host on the cable owns.
func sdpFlood(sources int) [][]byte {
	req := v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, []byte{v2gtp.SecurityNone, v2gtp.TransportTCP})
	all := netip.AddrPortFrom(netip.MustParseAddr("ff02::1"), sdp.Port)
	frames := make([][]byte, sources)
	for i := range frames {
		src := netip.AddrFrom16([16]byte{0xfe, 0x80, 8: 0x02, 9: 0xf1, 14: byte(i >> 8), 15: byte(i)})
		frames[i] = netnstest.UDP6Frame(net.HardwareAddr{2, 0xf1, 0, 0, byte(i >> 8), byte(i)}, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1},
			netip.AddrPortFrom(src, 50000), all, req)
	}
	return frames
}

// TestSDPFlood: 5,000 sources ask for the charger by SDP, 10,000 requests
// a second, while the car matches and asks: the car's requests are answered
// first, it gets its answer within its retries, and its session is served.
func TestSDPFlood(t *testing.T) {
	const sources = 5000
	r := newVethRig(t)
	f := netnstest.StartFlood(t, r.nsP, sdpFlood(sources), 10000)
	// Every source has asked, and the strangers are over their shared limit.
	deadline := time.Now().Add(30 * time.Second)
	for f.Sent.Load() < sources || r.sdpStats().Limited == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d flood requests sent; SDP server: %+v", f.Sent.Load(), r.sdpStats())
		}
		time.Sleep(10 * time.Millisecond) // polling counters, not synchronising
	}

	r.slac.plug <- homeplug.MAC(vethCarMAC)
	var udp net.PacketConn
	r.nsP.Do(t, func() {
		var err error
		if udp, err = net.ListenUDP("udp6", &net.UDPAddr{IP: vethCarLL.AsSlice(), Zone: r.nsP.Iface}); err != nil {
			t.Fatal(err)
		}
	})
	defer udp.Close()
	var tries atomic.Int32 // Discover waits after each request
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := sdp.Discover(ctx, udp, nil, sdp.ClientConfig{Interface: r.nsP.Iface,
		After: func(d time.Duration) <-chan time.Time { tries.Add(1); return time.After(d) }})
	if err != nil {
		t.Fatalf("the car got no SDP answer in %d requests: %v; %+v", tries.Load(), err, r.sdpStats())
	}
	t.Logf("the car's SDP answer after %v, request %d of %d", time.Since(start), tries.Load(), sdp.DefaultMaxTries)
	res, err := r.runCarUnpaced(t, netip.AddrPortFrom(resp.Addr.Addr().WithZone(""), resp.Addr.Port()))
	if err != nil || res.End != evcc.EndShutdown {
		t.Fatalf("car: %v, %v", res.End, err)
	}
	n := f.Stop()
	st := r.sdpStats()
	t.Logf("flood: %d requests sent; SDP server: %+v", n, st)
	if st.Answered < 1 || st.Limited == 0 || st.Answered+st.Dropped+st.Limited > uint64(n)+uint64(tries.Load()) {
		t.Errorf("SDP counters %+v for %d flood requests and %d of the car's", st, n, tries.Load())
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	r.checkCarRecord(t, <-r.sink.ended)
}
