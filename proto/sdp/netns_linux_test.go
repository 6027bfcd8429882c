//go:build linux

package sdp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// The veth pair's MACs and the EUI-64 link-local addresses the kernel
// derives from them.
var (
	chargerMAC = net.HardwareAddr{0x02, 0xcc, 0, 0, 0x5d, 0x01}
	carMAC     = net.HardwareAddr{0x02, 0xcc, 0, 0, 0x5d, 0x02}
	chargerLL  = netip.MustParseAddr("fe80::cc:ff:fe00:5d01")
	carLL      = netip.MustParseAddr("fe80::cc:ff:fe00:5d02")
)

// TestVeth: a car and a charger in two network namespaces joined by a veth
// pair find each other with real multicast to ff02::1 on the interface.
func TestVeth(t *testing.T) {
	chargerNS, carNS := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "sdp0", MACA: chargerMAC, IfaceB: "sdp1", MACB: carMAC})

	var srv net.PacketConn
	chargerNS.Do(t, func() {
		_, err := Listen("nope", Port)
		if want := `sdp: no such network interface: "nope"; there are: lo, sdp0`; err == nil || !errors.Is(err, ErrNoInterface) || err.Error() != want {
			t.Errorf("no interface: %v, want %s", err, want)
		}
		if _, err := Listen("lo", Port); !errors.Is(err, ErrNoLinkLocal) {
			t.Errorf("lo: %v", err)
		}
		addr, err := LinkLocal("sdp0")
		if err != nil || addr != chargerLL.WithZone("sdp0") {
			t.Fatalf("LinkLocal: %v, %v; want %v", addr, err, chargerLL.WithZone("sdp0"))
		}
		if srv, err = Listen("sdp0", Port); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		if _, err := Listen("sdp0", Port); !errors.Is(err, ErrInUse) {
			t.Errorf("second listener: %v", err)
		}
	})
	if dev := boundDevice(t, srv); dev != "sdp0" {
		t.Errorf("bound to %q, want sdp0", dev)
	}
	seen := make(chan request, 64)
	s := serve(t, srv, ServerConfig{Addr: chargerLL, Port: 61851, OnRequest: func(from netip.AddrPort, req v2gtp.SDPRequest) {
		select {
		case seen <- request{from, req}:
		default:
		}
	}})

	var car net.PacketConn
	carNS.Do(t, func() {
		var err error
		if car, err = Listen("sdp1", 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { car.Close() })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	r, err := Discover(ctx, car, nil, ClientConfig{Interface: "sdp1"})
	t.Logf("discovered in %v", time.Since(start))
	want := Response{
		Addr:      netip.AddrPortFrom(chargerLL.WithZone("sdp1"), 61851),
		Security:  v2gtp.SecurityNone,
		Transport: v2gtp.TransportTCP,
		From:      netip.AddrPortFrom(chargerLL.WithZone("sdp1"), Port),
	}
	if err != nil || r != want {
		t.Fatalf("Discover: %+v, %v; want %+v", r, err, want)
	}
	q := <-seen
	carPort := car.LocalAddr().(*net.UDPAddr).Port
	// The zone of a source is Go's name for the interface index in the
	// process's namespace, not in the test's: compare without it.
	if q.from.Addr().WithZone("") != carLL || q.from.Port() != uint16(carPort) || q.req.Security != v2gtp.SecurityNone {
		t.Errorf("OnRequest from %v %+v, want the car's [%v]:%d", q.from, q.req, carLL, carPort)
	}
	if st := s.Stats(); st.Answered < 1 || st.Malformed != 0 || st.SendErrors != 0 {
		t.Errorf("stats %+v", st)
	}

	// The server hears the PLC interface only: on the charger's own
	// loopback, port 15118 is closed (a connected socket gets the ICMP
	// port unreachable as an error).
	chargerNS.IP(t, "link", "set", "lo", "up")
	chargerNS.Do(t, func() {
		c, err := net.DialUDP("udp6", nil, &net.UDPAddr{IP: net.IPv6loopback, Port: Port})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, []byte{v2gtp.SecurityNone, v2gtp.TransportTCP})); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 64)); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("request on lo: %d bytes, %v; want connection refused", n, err)
		}
	})
}

// boundDevice returns the interface c's socket is bound to (SO_BINDTODEVICE).
func boundDevice(t *testing.T, c net.PacketConn) string {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	var serr error
	if err := rc.Control(func(fd uintptr) { dev, serr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return dev
}
