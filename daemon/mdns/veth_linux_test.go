package mdns

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/miekg/dns"
)

// TestLookupOverVeth asks by real multicast, as on a Pi's network: the
// query leaves by every interface to ff02::fb, a responder on the far end
// of a veth pair (in a namespace of its own) hears it in the group and
// answers by unicast to the query's port.
func TestLookupOverVeth(t *testing.T) {
	nsA, nsB := netnstest.NewVethPair(t, netnstest.Config{IfaceA: "mdns0", IfaceB: "mdns1"})
	var conn *net.UDPConn
	nsB.Do(t, func() {
		ifi, err := net.InterfaceByName(nsB.Iface)
		if err != nil {
			t.Fatal(err)
		}
		conn, err = net.ListenMulticastUDP("udp6", ifi, &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: 5353})
		if err != nil {
			t.Fatal(err)
		}
	})
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	heard := make(chan netip.AddrPort, 8)
	go func() {
		defer close(done)
		buf := make([]byte, maxPacket)
		for {
			n, src, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil || q.Response || len(q.Question) == 0 || q.Question[0].Name != "smartevse-1234.local." {
				continue
			}
			heard <- src
			b := answerFor(t, q,
				"smartevse-1234.local. 120 IN A 192.0.2.9",
				"smartevse-1234.local. 120 IN AAAA "+nsB.LinkLocal.WithZone("").String())
			conn.WriteToUDPAddrPort(b, src)
		}
	}()

	var got []netip.Addr
	var err error
	nsA.Do(t, func() {
		r := &Resolver{Timeout: 10 * time.Second}
		got, err = r.Lookup(context.Background(), "smartevse-1234.local")
	})
	if err != nil {
		t.Fatal(err)
	}
	// The AAAA is link-local: it comes zoned by the interface the answer
	// came in by (named as this thread's namespace knows it).
	if len(got) != 2 || got[0] != netip.MustParseAddr("192.0.2.9") || got[1].WithZone("") != nsB.LinkLocal.WithZone("") || got[1].Zone() == "" {
		t.Fatalf("addresses %v, want 192.0.2.9 and %v zoned", got, nsB.LinkLocal.WithZone(""))
	}
	src := <-heard
	if src.Addr().WithZone("") != nsA.LinkLocal.WithZone("") || src.Port() == 5353 {
		t.Fatalf("the query came from %v, want %v at an ephemeral port", src, nsA.LinkLocal)
	}
}
