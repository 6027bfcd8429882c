package smartevse

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/mdns"
	"github.com/miekg/dns"
)

// localResponder answers multicast DNS queries on the loopback, as a
// SmartEVSE does on its network: name has the address 127.0.0.1.
func localResponder(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, src, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil || len(q.Question) == 0 || !strings.EqualFold(q.Question[0].Name, name+".") {
				continue
			}
			m := &dns.Msg{MsgHdr: dns.MsgHdr{Id: q.Id, Response: true, Authoritative: true}}
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: name + ".", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 10}, A: net.IPv4(127, 0, 0, 1)}}
			b, _ := m.Pack()
			conn.WriteTo(b, src)
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestSenderReachesLocalName: a SmartEVSE given by its .local name is
// found by multicast DNS and posted to; the request names it as the host.
func TestSenderReachesLocalName(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.Host + r.URL.RequestURI()
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolver := &mdns.Resolver{Server: localResponder(t, "smartevse-1234.local"), Timeout: 10 * time.Second}
	s, results := start(t, Config{URL: "http://SmartEVSE-1234.local:" + port + "/", Resolver: resolver}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	if d.Err != nil || d.Status != 200 || d.URL != "http://SmartEVSE-1234.local:"+port+"/ev_state" {
		t.Fatalf("delivery %+v", d)
	}
	want := "POST SmartEVSE-1234.local:" + port + "/ev_state?" + Query(ioniq)
	if r := next(t, got, "request"); r != want {
		t.Fatalf("the SmartEVSE got\n%s\nwant\n%s", r, want)
	}
}

// TestSenderLocalNameUnanswered: a .local name nobody answers for says so,
// and what to do, in the delivery's words.
func TestSenderLocalNameUnanswered(t *testing.T) {
	resolver := &mdns.Resolver{Server: localResponder(t, "smartevse-9999.local"), Timeout: 300 * time.Millisecond}
	s, results := start(t, Config{URL: "http://smartevse-1234.local", Resolver: resolver, Window: 500 * time.Millisecond, Backoff: []time.Duration{time.Second}}, nil)
	s.Update(ioniq)
	d := next(t, results, "delivery")
	var na *mdns.NoAnswerError
	if !errors.Is(d.Err, ErrUnreachable) || !errors.As(d.Err, &na) || na.Name != "smartevse-1234.local" || d.Attempts != 2 {
		t.Fatalf("delivery %+v, want two attempts unanswered by multicast DNS", d)
	}
	want := "smartevse: POST http://smartevse-1234.local/ev_state: cannot reach the SmartEVSE: no answer for smartevse-1234.local by multicast DNS: check the name, or use the charger's IP address"
	if d.Err.Error() != want {
		t.Fatalf("error\n got %s\nwant %s", d.Err, want)
	}
}
