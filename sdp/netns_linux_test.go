//go:build linux

package sdp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ccslink/ccslink/v2gtp"
)

// The veth pair's MACs and the EUI-64 link-local addresses the kernel
// derives from them.
var (
	chargerMAC = net.HardwareAddr{0x02, 0xcc, 0, 0, 0x5d, 0x01}
	carMAC     = net.HardwareAddr{0x02, 0xcc, 0, 0, 0x5d, 0x02}
	chargerLL  = netip.MustParseAddr("fe80::cc:ff:fe00:5d01")
	carLL      = netip.MustParseAddr("fe80::cc:ff:fe00:5d02")
)

// inNS runs fn with the calling goroutine's thread in namespace ns; sockets
// fn opens stay in ns. A thread that cannot go back stays locked, so the
// runtime discards it.
func inNS(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original namespace: %v", err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// vethPair creates two fresh network namespaces joined by a veth pair,
// "sdp0" (the charger's) and "sdp1" (the car's), up and with their
// link-local addresses usable (no duplicate address detection).
func vethPair(t *testing.T) (charger, car netns.NsHandle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the veth test creates network namespaces and needs root; skipped")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	charger, errA := netns.New()
	car, errB := netns.New()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the original namespace: %v", err)
	}
	runtime.UnlockOSThread()
	if errA != nil || errB != nil {
		t.Fatalf("new namespaces: %v %v", errA, errB)
	}
	t.Cleanup(func() { charger.Close(); car.Close() })

	for _, ns := range []netns.NsHandle{charger, car} {
		inNS(t, ns, func() {
			// /proc/sys/net is the namespace of the thread that opens it.
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/default/accept_dad", []byte("0"), 0); err != nil {
				t.Fatalf("accept_dad: %v", err)
			}
		})
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.HardwareAddr, la.Namespace = "sdp0", chargerMAC, netlink.NsFd(int(charger))
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "sdp1", PeerHardwareAddr: carMAC, PeerNamespace: netlink.NsFd(int(car))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	ready := []<-chan error{linkLocalReady(t, charger, "sdp0"), linkLocalReady(t, car, "sdp1")}
	for _, x := range []struct {
		ns   netns.NsHandle
		name string
	}{{charger, "sdp0"}, {car, "sdp1"}} {
		h, err := netlink.NewHandleAt(x.ns)
		if err != nil {
			t.Fatal(err)
		}
		l, err := h.LinkByName(x.name)
		if err == nil {
			err = h.LinkSetUp(l)
		}
		h.Close()
		if err != nil {
			t.Fatalf("%s up: %v", x.name, err)
		}
	}
	for _, c := range ready {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	return charger, car
}

// linkLocalReady reports on the returned channel when name in ns has a
// usable (not tentative) link-local address.
func linkLocalReady(t *testing.T, ns netns.NsHandle, name string) <-chan error {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.LinkByName(name)
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	timeout := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{Namespace: &ns, ListExisting: true, ReceiveTimeout: &timeout}); err != nil {
		t.Fatalf("subscribe to address changes: %v", err)
	}
	result := make(chan error, 1)
	go func() {
		defer func() {
			close(done)
			for range updates {
			}
		}()
		for u := range updates {
			if u.NewAddr && u.LinkIndex == l.Attrs().Index && u.LinkAddress.IP.IsLinkLocalUnicast() && u.Flags&unix.IFA_F_TENTATIVE == 0 {
				result <- nil
				return
			}
		}
		result <- fmt.Errorf("%s: no link-local address before the subscription ended", name)
	}()
	return result
}

// TestVeth: a car and a charger in two network namespaces joined by a veth
// pair find each other with real multicast to ff02::1 on the interface.
func TestVeth(t *testing.T) {
	chargerNS, carNS := vethPair(t)

	var srv net.PacketConn
	inNS(t, chargerNS, func() {
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
	inNS(t, carNS, func() {
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
	inNS(t, chargerNS, func() {
		h, err := netlink.NewHandleAt(chargerNS)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = h.LinkSetUp(lo)
		}
		if err != nil {
			t.Fatalf("lo up: %v", err)
		}
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
