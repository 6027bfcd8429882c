package netnstest_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
)

// TestVethPair: both ends exist as configured, with EUI-64 link-local
// addresses that ip reports as usable, not tentative.
func TestVethPair(t *testing.T) {
	a, b := netnstest.VethPair(t)
	if a.Name == b.Name || a.Iface != "veth0" || b.Iface != "veth1" || a.Index == 0 || b.Index == 0 {
		t.Fatalf("a %+v\nb %+v", a, b)
	}
	if a.MAC.String() != "02:cc:00:00:00:0a" || b.MAC.String() != "02:cc:00:00:00:0b" {
		t.Fatalf("MACs %v %v", a.MAC, b.MAC)
	}
	if a.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:a%veth0") || b.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:b%veth1") {
		t.Fatalf("link-local %v %v", a.LinkLocal, b.LinkLocal)
	}
	if got := b.PeerAddr(a, 15118).String(); got != "[fe80::cc:ff:fe00:a%veth1]:15118" {
		t.Fatalf("PeerAddr %s", got)
	}
	out, err := a.Command(context.Background(), "ip", "-6", "addr", "show", "dev", a.Iface).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "inet6 fe80::cc:ff:fe00:a/64 scope link") || strings.Contains(string(out), "tentative") {
		t.Fatalf("ip -6 addr in %s:\n%s", a.Name, out)
	}
	// The other namespace has no veth0: the two are apart.
	if out, err := b.Command(context.Background(), "ip", "link", "show", "veth0").CombinedOutput(); err == nil {
		t.Fatalf("veth0 seen from %s:\n%s", b.Name, out)
	}
}

// TestVethPairTCPAndUDP: TCP and UDP between the link-local addresses, as
// SDP and V2G use them, with sockets opened in Do and used outside it.
func TestVethPairTCPAndUDP(t *testing.T) {
	a, b := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "evse0", IfaceB: "ev0",
		MACA: net.HardwareAddr{2, 0, 0, 0, 0xe5, 1}, MACB: net.HardwareAddr{2, 0, 0, 0, 0xca, 1}})
	if a.LinkLocal != netip.MustParseAddr("fe80::ff:fe00:e501%evse0") {
		t.Fatalf("link-local %v", a.LinkLocal)
	}
	var ln net.Listener
	var pc net.PacketConn
	var err, perr error
	a.Do(t, func() {
		ln, err = net.Listen("tcp6", "[::]:15118")
		pc, perr = net.ListenPacket("udp6", "[::]:15118")
	})
	if err != nil || perr != nil {
		t.Fatalf("listen: %v %v", err, perr)
	}
	defer ln.Close()
	defer pc.Close()
	var c, u net.Conn
	b.Do(t, func() {
		c, err = net.DialTimeout("tcp6", b.PeerAddr(a, 15118).String(), 5*time.Second)
		u, perr = net.Dial("udp6", b.PeerAddr(a, 15118).String())
	})
	if err != nil || perr != nil {
		t.Fatalf("dial: %v %v", err, perr)
	}
	defer c.Close()
	defer u.Close()
	deadline := time.Now().Add(5 * time.Second)
	ln.(*net.TCPListener).SetDeadline(deadline)
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().WithZone(""); got != b.LinkLocal.WithZone("") {
		t.Fatalf("TCP from %v, want %v", got, b.LinkLocal)
	}
	if _, err := c.Write([]byte("SessionSetupReq")); err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(deadline)
	buf := make([]byte, 15)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "SessionSetupReq" {
		t.Fatalf("TCP read %q, %v", buf, err)
	}
	sdp := []byte{0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00}
	if _, err := u.Write(sdp); err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(deadline)
	n, from, err := pc.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], sdp) {
		t.Fatalf("UDP read %x, %v", buf[:n], err)
	}
	if got := from.(*net.UDPAddr).AddrPort().Addr().WithZone(""); got != b.LinkLocal.WithZone("") {
		t.Fatalf("UDP from %v, want %v", from, b.LinkLocal)
	}
}

// TestRecreatePair: the pair deleted and created again has the same names,
// MACs and link-local addresses, new indexes, and carries traffic.
func TestRecreatePair(t *testing.T) {
	a, b := netnstest.VethPair(t)
	oldA, oldB := a.Index, b.Index
	netnstest.DeletePair(t, a, b)
	if out, err := a.Command(context.Background(), "ip", "link", "show", "veth0").CombinedOutput(); err == nil {
		t.Fatalf("veth0 still there:\n%s", out)
	}
	netnstest.RecreatePair(t, a, b)
	if a.Index == oldA || b.Index == oldB || a.Index == 0 || b.Index == 0 {
		t.Fatalf("indexes %d %d, were %d %d", a.Index, b.Index, oldA, oldB)
	}
	if a.MAC.String() != "02:cc:00:00:00:0a" || a.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:a%veth0") || b.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:b%veth1") {
		t.Fatalf("a %+v\nb %+v", a, b)
	}
	var pc net.PacketConn
	var err error
	a.Do(t, func() { pc, err = net.ListenPacket("udp6", "[::]:15118") })
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var u net.Conn
	b.Do(t, func() { u, err = net.Dial("udp6", b.PeerAddr(a, 15118).String()) })
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte("again")); err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	if n, _, err := pc.ReadFrom(buf); err != nil || string(buf[:n]) != "again" {
		t.Fatalf("UDP read %q, %v", buf[:n], err)
	}
	// Recreated while it is still there: deleted first.
	netnstest.RecreatePair(t, a, b)
}

// TestTentative: an end with TentativeA has its address, still tentative,
// when NewVethPair returns; the other end's is usable.
func TestTentative(t *testing.T) {
	a, b := netnstest.NewVethPair(t, netnstest.Config{TentativeA: 3 * time.Second})
	if a.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:a%veth0") || b.LinkLocal != netip.MustParseAddr("fe80::cc:ff:fe00:b%veth1") {
		t.Fatalf("link-local %v %v", a.LinkLocal, b.LinkLocal)
	}
	for _, c := range []struct {
		n         *netnstest.Namespace
		tentative bool
	}{{a, true}, {b, false}} {
		out, err := c.n.Command(context.Background(), "ip", "-6", "addr", "show", "dev", c.n.Iface).CombinedOutput()
		if err != nil {
			t.Fatalf("ip addr: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "tentative") != c.tentative {
			t.Fatalf("%s, tentative %v:\n%s", c.n.Iface, c.tentative, out)
		}
	}
}
