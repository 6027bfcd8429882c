package mdns

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"testing"
)

// esp32Answer is an answer to a legacy unicast query for
// smartevse-1234.local (ID 0x2b7e), laid out as ESP-IDF's responder sends
// it: flags 0x8400 (response, authoritative), the question repeated, one
// A record 192.168.1.50 by a compression pointer to the question's name,
// class IN without the cache-flush bit, TTL 10 s (RFC 6762 §6.7).
const esp32Answer = "2b7e84000001000100000000" +
	"0e736d617274657673652d31323334056c6f63616c0000010001" +
	"c00c000100010000000a0004c0a80132"

func TestESP32Answer(t *testing.T) {
	pkt, _ := hex.DecodeString(esp32Answer)
	a, ok := parseAnswer(pkt, "smartevse-1234.local.", 0x2b7e, netip.MustParseAddr("192.168.1.50"))
	if !ok || !slices.Equal(a.addrs, []netip.Addr{netip.MustParseAddr("192.168.1.50")}) || a.ttl.Seconds() != 10 {
		t.Fatalf("%+v %v", a, ok)
	}
	if _, ok := parseAnswer(pkt, "smartevse-1234.local.", 0x2b7f, netip.MustParseAddr("192.168.1.50")); ok {
		t.Fatal("taken with another query's ID")
	}
	if _, ok := parseAnswer(pkt, "smartevse-1235.local.", 0x2b7e, netip.MustParseAddr("192.168.1.50")); ok {
		t.Fatal("taken for another name")
	}
}

// FuzzParseAnswer: any packet is parsed without a panic, and what is taken
// is a usable address of the name asked.
func FuzzParseAnswer(f *testing.F) {
	pkt, _ := hex.DecodeString(esp32Answer)
	f.Add(pkt)
	f.Add(pkt[:len(pkt)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		src := netip.MustParseAddr("fe80::2%eth0")
		a, ok := parseAnswer(pkt, "smartevse-1234.local.", 0x2b7e, src)
		if ok != (len(a.addrs) > 0) {
			t.Fatalf("ok %v with %v", ok, a.addrs)
		}
		if ok && a.ttl <= 0 {
			t.Fatalf("ttl %v", a.ttl)
		}
		for _, ip := range a.addrs {
			if !usable(ip, src) || ip.IsLoopback() || ip.Is6() && ip.IsLinkLocalUnicast() && ip.Zone() != "eth0" {
				t.Fatalf("took %v", ip)
			}
		}
		if len(a.addrs) > len(pkt)/4 {
			t.Fatalf("%d addresses from %d bytes", len(a.addrs), len(pkt))
		}
	})
}
