package mdns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/miekg/dns"
)

// responder is a multicast DNS responder of a test's own, on a UDP socket:
// for each query it sends what reply returns, in order.
type responder struct {
	conn  net.PacketConn
	reply func(q *dns.Msg) [][]byte

	mu      sync.Mutex
	queries []*dns.Msg
}

// newResponder answers on 127.0.0.1; it stops when the test ends.
func newResponder(t *testing.T, reply func(q *dns.Msg) [][]byte) *responder {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &responder{conn: conn, reply: reply}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		r.serve()
	}()
	return r
}

func (r *responder) serve() {
	buf := make([]byte, maxPacket)
	for {
		n, src, err := r.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		q := new(dns.Msg)
		if q.Unpack(buf[:n]) != nil {
			continue
		}
		r.mu.Lock()
		r.queries = append(r.queries, q)
		r.mu.Unlock()
		for _, p := range r.reply(q) {
			r.conn.WriteTo(p, src)
		}
	}
}

func (r *responder) addr() netip.AddrPort {
	return r.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (r *responder) asked() []*dns.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries)
}

// answerFor builds the answer a responder gives to q for name: the ID
// echoed, and the records given.
func answerFor(t testing.TB, q *dns.Msg, rrs ...string) []byte {
	t.Helper()
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: q.Id, Response: true, Authoritative: true}}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLookup: what comes before the real answer (garbage, a query, another
// name's answer, a wrong ID, a goodbye) is ignored; the answer's addresses
// are taken, IPv4 first, and what cannot be dialed is left out.
func TestLookup(t *testing.T) {
	resp := newResponder(t, func(q *dns.Msg) [][]byte {
		wrongID := answerFor(t, q, "smartevse-1234.local. 120 IN A 192.0.2.66")
		wrongID[0] ^= 0xff
		query, _ := q.Pack()
		return [][]byte{
			{0x00, 0x01, 0x84}, // cut short
			query,              // not an answer
			answerFor(t, q, "smartevse-9999.local. 120 IN A 192.0.2.99"),
			wrongID,
			answerFor(t, q, "smartevse-1234.local. 0 IN A 192.0.2.77"), // goodbye
			answerFor(t, q,
				"smartevse-1234.local. 120 IN AAAA 2001:db8::7",
				"other.local. 120 IN A 192.0.2.98",
				"SmartEVSE-1234.local. 120 IN A 192.0.2.7",
				"smartevse-1234.local. 120 IN A 0.0.0.0",
				"smartevse-1234.local. 120 IN A 224.0.0.251",
				"smartevse-1234.local. 120 IN AAAA fe80::1", // no zone to dial it by
				"smartevse-1234.local. 120 IN A 127.0.0.1",  // from this host: allowed
			),
		}
	})
	r := &Resolver{Server: resp.addr(), Timeout: 10 * time.Second}
	got, err := r.Lookup(context.Background(), "smartevse-1234.local")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("2001:db8::7")}
	if !slices.Equal(got, want) {
		t.Fatalf("addresses %v, want %v", got, want)
	}
	// The query: A and AAAA for the name, unicast answer asked, a fresh ID.
	qs := resp.asked()
	if len(qs) != 1 {
		t.Fatalf("%d queries, want 1", len(qs))
	}
	q := qs[0]
	wantQ := []dns.Question{
		{Name: "smartevse-1234.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET | 1<<15},
		{Name: "smartevse-1234.local.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET | 1<<15},
	}
	if q.Response || q.Opcode != dns.OpcodeQuery || !slices.Equal(q.Question, wantQ) || len(q.Answer)+len(q.Ns)+len(q.Extra) != 0 {
		t.Fatalf("query %v", q)
	}
}

// TestLookupLoopbackOnlyFromThisHost: an answer naming a loopback address
// is not taken from a responder elsewhere.
func TestLookupLoopbackOnlyFromThisHost(t *testing.T) {
	src := netip.MustParseAddr("192.168.1.20")
	q := &dns.Msg{MsgHdr: dns.MsgHdr{Id: 7}}
	pkt := answerFor(t, q, "smartevse-1234.local. 120 IN A 127.0.0.1", "smartevse-1234.local. 10 IN A 192.168.1.50")
	a, ok := parseAnswer(pkt, "smartevse-1234.local.", 7, src)
	if !ok || !slices.Equal(a.addrs, []netip.Addr{netip.MustParseAddr("192.168.1.50")}) || a.ttl != 10*time.Second {
		t.Fatalf("%v %v", a, ok)
	}
	// A link-local IPv6 address takes the zone its answer came by.
	src = netip.MustParseAddr("fe80::2%wlan0")
	pkt = answerFor(t, q, "smartevse-1234.local. 120 IN AAAA fe80::2")
	a, ok = parseAnswer(pkt, "smartevse-1234.local.", 7, src)
	if !ok || !slices.Equal(a.addrs, []netip.Addr{netip.MustParseAddr("fe80::2%wlan0")}) {
		t.Fatalf("%v %v", a, ok)
	}
}

// TestNoAnswer: a name nobody answers for ends at the timeout, with words
// for the owner.
func TestNoAnswer(t *testing.T) {
	resp := newResponder(t, func(q *dns.Msg) [][]byte {
		return [][]byte{answerFor(t, q, "smartevse-9999.local. 120 IN A 192.0.2.99")}
	})
	r := &Resolver{Server: resp.addr(), Timeout: 600 * time.Millisecond}
	got, err := r.Lookup(context.Background(), "smartevse-1234.local")
	var na *NoAnswerError
	if got != nil || !errors.As(err, &na) || na.Name != "smartevse-1234.local" || na.Timeout != 600*time.Millisecond {
		t.Fatalf("Lookup = %v, %v; want a *NoAnswerError", got, err)
	}
	if want := "no answer for smartevse-1234.local by multicast DNS: check the name, or use the charger's IP address"; err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", err, want)
	}
	// Sent again while no answer came: at 0 and 250 ms, within 600 ms.
	if n := len(resp.asked()); n < 2 {
		t.Fatalf("%d queries, want the query sent again", n)
	}
	// A cancelled lookup says so, not that nobody answered.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Lookup(ctx, "smartevse-1234.local"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestQueryNotSent: a query that no socket took says so, typed.
func TestQueryNotSent(t *testing.T) {
	r := &Resolver{Server: netip.MustParseAddrPort("127.0.0.1:0")} // port 0 takes nothing
	_, err := r.Lookup(context.Background(), "smartevse-1234.local")
	var qe *QueryError
	if !errors.As(err, &qe) || !errors.Is(err, ErrNoInterface) || qe.Name != "smartevse-1234.local" {
		t.Fatalf("Lookup: %v, want a *QueryError for ErrNoInterface", err)
	}
	if want := "cannot ask for smartevse-1234.local by multicast DNS: the query could not be sent: is a network interface up, with an address?"; err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", err, want)
	}
}

// TestCache: an answer is kept for its TTL, never more than MaxCache;
// Forget drops it.
func TestCache(t *testing.T) {
	var ttl atomic.Int64 // the responder's, in seconds
	ttl.Store(10)
	resp := newResponder(t, func(q *dns.Msg) [][]byte {
		return [][]byte{answerFor(t, q, "smartevse-1234.local. "+strconv.FormatInt(ttl.Load(), 10)+" IN A 192.0.2.7")}
	})
	clk := clock.NewFake(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	r := &Resolver{Server: resp.addr(), Timeout: 10 * time.Second, Clock: clk}
	lookup := func(wantQueries int) {
		t.Helper()
		got, err := r.Lookup(context.Background(), "SmartEVSE-1234.local.")
		if err != nil || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.7")}) {
			t.Fatalf("Lookup = %v, %v", got, err)
		}
		if n := len(resp.asked()); n != wantQueries {
			t.Fatalf("%d queries, want %d", n, wantQueries)
		}
	}
	lookup(1)
	clk.Advance(9 * time.Second)
	lookup(1) // from the cache: any spelling of the name
	clk.Advance(time.Second)
	lookup(2) // the TTL is over
	r.Forget("smartevse-1234.local")
	lookup(3)
	ttl.Store(4500) // an hour and more: kept a minute
	r.Forget("smartevse-1234.local")
	lookup(4)
	clk.Advance(MaxCache - time.Second)
	lookup(4)
	clk.Advance(time.Second)
	lookup(5)
}

func TestIsLocal(t *testing.T) {
	for host, want := range map[string]bool{
		"smartevse-1234.local": true, "SmartEVSE-1234.LOCAL.": true, "a.b.local": true,
		"local": false, ".local": false, "10.0.0.1": false, "smartevse.lan": false, "x.localhost": false, "": false,
	} {
		if got := IsLocal(host); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", host, got, want)
		}
	}
}
