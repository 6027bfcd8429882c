package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// strangerRequests are what a stranger sends at once over V2G: a
// handshake, a SessionSetupReq with its own EVCCID and a
// ChargeParameterDiscoveryReq with SoC 7.
func strangerRequests(t *testing.T) []byte {
	t.Helper()
	sap, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{
		{ProtocolNamespace: "urn:din:70121:2012:MsgDef", VersionNumberMajor: 2, SchemaID: 1, Priority: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	b := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, sap)
	for _, body := range []din.BodyType{
		{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{0x02, 0xba, 0xd0, 0, 0, 7}}},
		{ChargeParameterDiscoveryReq: &din.ChargeParameterDiscoveryReqType{EVRequestedEnergyTransferType: din.EVRequestedEnergyTransferDC_extended,
			DC_EVChargeParameter: &din.DC_EVChargeParameterType{DC_EVStatus: din.DC_EVStatusType{EVRESSSOC: 7},
				EVMaximumCurrentLimit: din.PhysicalValueType{Value: 100}, EVMaximumVoltageLimit: din.PhysicalValueType{Value: 400}}}},
	} {
		p, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: []byte{0}}, Body: body}})
		if err != nil {
			t.Fatal(err)
		}
		b = v2gtp.AppendMessage(b, v2gtp.TypeEXI, p)
	}
	return b
}

// TestEVSEStrangers: the daemon and a car (ccslink pev) over a veth pair,
// with strangers on the cable. Before the car, a host on the car's side
// opens a V2G connection and sends another car's EVCCID and SoC 7; it is
// refused. Then 5,000 sources flood SDP with 10,000 requests a second while
// the car matches and asks: the car gets its answer, the SmartEVSE gets
// exactly the car's values once, and /metrics counts what happened.
func TestEVSEStrangers(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	// The stranger: a host of its own (a macvlan, its own MAC) on the car's side of the cable.
	stranger := netip.MustParseAddr("fe80::bad")
	nsP.IP(t, "link", "add", "stray0", "link", nsP.Iface, "address", "02:ba:d0:00:00:07", "type", "macvlan", "mode", "bridge")
	nsP.IP(t, "link", "set", "stray0", "up")
	nsP.IP(t, "addr", "add", stranger.String()+"/64", "dev", "stray0", "nodad")
	bin := buildCCSLink(t)

	stub := &smartEVSEStub{new: make(chan struct{}, 8)}
	var ln, apiLn net.Listener
	nsE.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if apiLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	apiAddr := apiLn.Addr().String()
	apiLn.Close()
	srv := &http.Server{Handler: stub}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const v2gPort = 15200
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json", "--v2g-port", strconv.Itoa(v2gPort),
		"--smartevse", "http://"+ln.Addr().String(), "--http", apiAddr)
	dErr, records := startDaemon(t, daemon)
	for !strings.Contains(dErr.String(), "ready: waiting for a car") {
		select {
		case <-ctx.Done():
			t.Fatalf("the daemon never got ready\n%s", dErr.String())
		case <-time.After(20 * time.Millisecond): // polling its log
		}
	}

	// The stray connection, before any car: refused once no car matched
	// within 2 s, nothing answered, nothing published.
	var stray net.Conn
	nsP.Do(t, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: stranger.AsSlice(), Zone: "stray0"}}
		to := netip.AddrPortFrom(nsE.LinkLocal.WithZone("stray0"), v2gPort)
		var err error
		if stray, err = d.Dial("tcp6", to.String()); err != nil {
			t.Fatal(err)
		}
	})
	defer stray.Close()
	stray.Write(strangerRequests(t))
	stray.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := stray.Read(make([]byte, 64)); n != 0 || err == nil || isTimeoutErr(err) {
		t.Fatalf("the stranger read %d bytes, %v; want its connection closed unanswered\n%s", n, err, dErr.String())
	}

	f := netnstest.StartFlood(t, nsP, sdpFloodFrames(5000), 10000)
	for f.Sent.Load() < 5000 {
		select {
		case <-ctx.Done():
			t.Fatal("the flood did not start")
		case <-time.After(10 * time.Millisecond): // polling its counter
		}
	}
	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "60s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	sent := f.Stop()
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil || !rep.OK || rep.SoC != 93 || rep.EVCCID != "02000000ca01" {
		t.Fatalf("car: %+v %v", rep, err)
	}
	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", dErr.String())
	}
	var rec record.Session
	select {
	case line := <-records:
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("daemon record %q: %v", line, err)
		}
	case <-ctx.Done():
		t.Fatalf("no record from the daemon after the car left\n%s", dErr.String())
	}
	if rec.SoC.Value != 93 || rec.EVCCIDHex() != "02000000ca01" || rec.EVMAC != "02:00:00:00:ca:01" || rec.End != record.EndSessionStop {
		t.Fatalf("record: %+v", rec)
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	stub.mu.Lock()
	var got []string
	for _, p := range stub.got {
		got = append(got, p.query)
	}
	stub.mu.Unlock()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the SmartEVSE got %q, want %q once", got, want)
	}

	m := nsGet(t, nsE, apiAddr, "/metrics")
	counter := func(name string) float64 {
		t.Helper()
		sub := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(m)
		if sub == nil {
			t.Fatalf("/metrics has no %s:\n%s", name, grepLines(m, "ccslink_sdp|ccslink_v2g"))
		}
		v, _ := strconv.ParseFloat(string(sub[1]), 64)
		return v
	}
	answered, limited, dropped := counter(`ccslink_sdp_requests_total{outcome="answered"}`), counter(`ccslink_sdp_requests_total{outcome="limited"}`), counter(`ccslink_sdp_requests_total{outcome="dropped"}`)
	t.Logf("flood of %d requests; /metrics: answered %v, limited %v, dropped %v", sent, answered, limited, dropped)
	if refused := counter("ccslink_v2g_refused_total"); refused != 1 {
		t.Errorf("ccslink_v2g_refused_total %v, want 1 (the stranger)", refused)
	}
	if answered < 1 || limited < 1 || answered+limited+dropped > float64(sent)+sdp.DefaultMaxTries {
		t.Errorf("SDP counters: answered %v, limited %v, dropped %v for %d flood requests", answered, limited, dropped, sent)
	}
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", daemon.Process.Pid)); err == nil {
		t.Logf("the daemon's memory: %s", grepLines(status, "^Vm(HWM|RSS)"))
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	if !strings.Contains(dErr.String(), "refused a V2G connection") {
		t.Errorf("the refusal is not logged:\n%s", dErr.String())
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// sdpFloodFrames returns SDP requests to ff02::1 from sources distinct
// link-local addresses that no host on the cable owns.
func sdpFloodFrames(sources int) [][]byte {
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

// grepLines returns the lines of b that match re.
func grepLines(b []byte, re string) string {
	var out []string
	r := regexp.MustCompile(re)
	for _, l := range bytes.Split(b, []byte("\n")) {
		if r.Match(l) {
			out = append(out, string(l))
		}
	}
	return strings.Join(out, "\n")
}
