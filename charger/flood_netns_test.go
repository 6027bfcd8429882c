//go:build linux

package charger

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ccslink/ccslink/evcc"
	"github.com/ccslink/ccslink/homeplug"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/sdp"
	"github.com/ccslink/ccslink/v2gtp"
)

// floodSource is the i-th source of the flood: a link-local address no
// host on the cable owns.
func floodSource(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0xfe, 0x80, 8: 0x02, 9: 0xf1, 14: byte(i >> 8), 15: byte(i)})
}

// sdpFrame is an SDP request from src to ff02::1, as an Ethernet frame.
func sdpFrame(src netip.Addr) []byte {
	payload := v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, []byte{v2gtp.SecurityNone, v2gtp.TransportTCP})
	dst := netip.MustParseAddr("ff02::1")
	udpLen := 8 + len(payload)
	b := []byte{0x33, 0x33, 0, 0, 0, 1, 0x02, 0xf1, 0, 0, 0, 1, 0x86, 0xdd}
	b = append(b, 0x60, 0, 0, 0, byte(udpLen>>8), byte(udpLen), 17, 255)
	b = append(b, src.AsSlice()...)
	b = append(b, dst.AsSlice()...)
	udp := binary.BigEndian.AppendUint16(nil, 50000)
	udp = binary.BigEndian.AppendUint16(udp, sdp.Port)
	udp = binary.BigEndian.AppendUint16(udp, uint16(udpLen))
	udp = append(udp, 0, 0)
	udp = append(udp, payload...)
	// The checksum over the pseudo-header, the UDP header and the payload.
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	add([]byte{0, 0, byte(udpLen >> 8), byte(udpLen), 0, 0, 0, 17})
	add(udp)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(udp[6:], ^uint16(sum))
	return append(b, udp...)
}

// flood sends SDP requests from sources distinct link-local addresses,
// round after round, about rate a second, on ns's interface until stop is
// closed; sent counts them as they go.
func flood(t *testing.T, ns *netnstest.Namespace, sources, rate int, stop <-chan struct{}, sent *atomic.Int64) <-chan struct{} {
	t.Helper()
	var fd int
	ns.Do(t, func() {
		var err error
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0); err != nil {
			t.Fatal(err)
		}
	})
	frames := make([][]byte, sources)
	for i := range frames {
		frames[i] = sdpFrame(floodSource(i))
	}
	to := &unix.SockaddrLinklayer{Ifindex: ns.Index, Halen: 6, Addr: [8]byte{0x33, 0x33, 0, 0, 0, 1}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for range rate / 100 {
				if unix.Sendto(fd, frames[sent.Load()%int64(sources)], 0, to) == nil {
					sent.Add(1)
				}
			}
		}
	}()
	return done
}

// TestSDPFlood: 5,000 sources ask for the charger by SDP, 10,000 requests
// a second, while the car matches and asks: the car's requests are answered
// first, it gets its answer within its retries, and its session is served.
func TestSDPFlood(t *testing.T) {
	const sources = 5000
	r := newVethRig(t)
	stop := make(chan struct{})
	var sent atomic.Int64
	done := flood(t, r.nsP, sources, 10000, stop, &sent)
	var once sync.Once
	end := func() int64 {
		once.Do(func() { close(stop); <-done })
		return sent.Load()
	}
	defer end()
	// Every source has asked, and the strangers are over their shared limit.
	deadline := time.Now().Add(30 * time.Second)
	for sent.Load() < sources || r.sdpStats().Limited == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d flood requests sent; SDP server: %+v", sent.Load(), r.sdpStats())
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
		t.Fatalf("the car got no SDP answer in %d tries: %v; %+v", tries.Load(), err, r.sdpStats())
	}
	t.Logf("the car's SDP answer after %v, try %d of %d", time.Since(start), tries.Load(), sdp.DefaultMaxTries)
	res, err := r.runCarUnpaced(t, netip.AddrPortFrom(resp.Addr.Addr().WithZone(""), resp.Addr.Port()))
	if err != nil || res.End != evcc.EndShutdown {
		t.Fatalf("car: %v, %v", res.End, err)
	}
	n := end()
	st := r.sdpStats()
	t.Logf("flood: %d requests sent; SDP server: %+v", n, st)
	if st.Answered < 1 || st.Limited == 0 || st.Answered+st.Dropped+st.Limited > uint64(n)+uint64(tries.Load()) {
		t.Errorf("SDP counters %+v for %d flood requests and %d of the car's", st, n, tries.Load())
	}
	<-r.sink.v2gEnd
	r.slac.unplug <- struct{}{}
	r.checkCarRecord(t, <-r.sink.ended)
}
