package secc

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// connUnder drives a Conn through the requests, each answer sent.
func connUnder(t *testing.T, cfg Config, reqs ...[]byte) (*Conn, *[]record.Event) {
	t.Helper()
	var evs []record.Event
	cfg.NewSessionID = func() [8]byte { return testSID }
	c := NewConn(cfg, t0, ConnInfo{}, func(e record.Event) { evs = append(evs, e) })
	for i, r := range reqs {
		out, _, err := c.Handle(t0.Add(time.Duration(i+1)*time.Second), v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(r))}, r, nil)
		if len(out) == 0 {
			t.Fatalf("request %d: no answer (%v)", i, err)
		}
		c.Sent(time.Millisecond)
	}
	return c, &evs
}

func TestConnEvents(t *testing.T) {
	info := ConnInfo{
		Peer:  netip.MustParseAddrPort("[fe80::1]:50000"),
		Local: netip.MustParseAddrPort("[fe80::2]:15118"),
		TLS:   &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	}
	var evs []record.Event
	c := NewConn(Config{}, t0, info, func(e record.Event) { evs = append(evs, e) })
	if got := c.Session().ConnInfo(); got != info {
		t.Errorf("the session sees %+v, want %+v", got, info)
	}
	want := record.Event{Kind: record.KindConnected, At: t0, TLS: "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", TLSVersion: "1.2"}
	if len(evs) != 1 || fmt.Sprint(evs[0]) != fmt.Sprint(want) {
		t.Fatalf("events %+v, want %+v", evs, want)
	}
	req := sapReq(t)
	at := t0.Add(time.Second)
	out, step, err := c.Handle(at, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(req))}, req, nil)
	if err != nil || len(out) == 0 || step.Request != message.SupportedAppProtocolReq {
		t.Fatalf("%x %+v %v", out, step, err)
	}
	// Nothing of the answer is reported before it is sent.
	if evs[len(evs)-1].Kind != record.KindHandshake {
		t.Fatalf("before Sent: %+v", evs)
	}
	c.Sent(3 * time.Millisecond)
	c.Sent(5 * time.Millisecond) // once per answer
	req0 := evs[len(evs)-1]
	if len(evs) != 3 || req0.Kind != record.KindRequest || req0.At != at || req0.Message != message.SupportedAppProtocolReq || req0.Code != "OK_SuccessfulNegotiation" || req0.Took != 3*time.Millisecond {
		t.Fatalf("events %+v", evs)
	}
	if c.Deadline() != at.Add(V2G_SECC_Sequence_Timeout) {
		t.Errorf("deadline %v", c.Deadline())
	}
	end, detail := c.End(at.Add(time.Minute), io.EOF)
	if end != record.EndCarClosed || detail != "" {
		t.Errorf("end %v %q", end, detail)
	}
	// A second End, as when the transport fails once more, changes nothing.
	if end, detail := c.End(at.Add(2*time.Minute), &Hangup{End: record.EndStopped}); end != record.EndCarClosed || detail != "" || len(evs) != 4 {
		t.Errorf("second end %v %q, %d events", end, detail, len(evs))
	}
	if e := evs[3]; e.Kind != record.KindEnded || e.At != at.Add(time.Minute) || e.End != record.EndCarClosed {
		t.Errorf("ended %+v", e)
	}
}

// An answer that was not sent is not reported, and its request is not the last.
func TestConnUnsent(t *testing.T) {
	var evs []record.Event
	c := NewConn(Config{}, t0, ConnInfo{}, func(e record.Event) { evs = append(evs, e) })
	req := sapReq(t)
	c.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(req))}, req, nil)
	end, detail := c.End(t0, &WriteError{Request: message.SupportedAppProtocolReq, Err: net.ErrClosed})
	if end != record.EndCarClosed || detail != "writing the answer to supportedAppProtocolReq: use of closed network connection" || c.Last() != (Step{}) {
		t.Errorf("end %v %q, last %+v", end, detail, c.Last())
	}
	for _, e := range evs {
		if e.Kind == record.KindRequest {
			t.Errorf("unsent answer reported: %+v", e)
		}
	}
}

// TestConnEnding: how a connection ended, from what stopped its transport
// and where its session stood.
func TestConnEnding(t *testing.T) {
	setup := func(t *testing.T) []byte {
		return dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}})
	}
	stop := func(t *testing.T) []byte {
		return dinReq(t, testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}})
	}
	// Wrong SessionID: FAILED_UnknownSession ends the session.
	wrong := func(t *testing.T) []byte {
		return dinReq(t, []byte{9}, din.BodyType{ServiceDiscoveryReq: &din.ServiceDiscoveryReqType{}})
	}
	type state int
	const (
		opened  state = iota // nothing answered
		talking              // handshake and SessionSetup answered
		stopped              // SessionStop answered
		failed               // a FAILED answer ended it
	)
	reqs := map[state]func(t *testing.T) [][]byte{
		opened:  func(t *testing.T) [][]byte { return nil },
		talking: func(t *testing.T) [][]byte { return [][]byte{sapReq(t), setup(t)} },
		stopped: func(t *testing.T) [][]byte { return [][]byte{sapReq(t), setup(t), stop(t)} },
		failed:  func(t *testing.T) [][]byte { return [][]byte{sapReq(t), setup(t), wrong(t)} },
	}
	reqErr := &RequestError{Message: message.ServiceDiscoveryReq, Err: ErrEnded}
	tests := []struct {
		state  state
		cause  error
		end    record.End
		detail string
	}{
		{opened, io.EOF, record.EndCarClosed, ""},
		{talking, nil, record.EndCarClosed, ""},
		{talking, fmt.Errorf("read tcp: %w", net.ErrClosed), record.EndCarClosed, ""},
		{talking, &CarClosed{Why: "the capture holds no further request"}, record.EndCarClosed, "the capture holds no further request"},
		{stopped, io.EOF, record.EndSessionStop, ""},
		{stopped, &CarClosed{Why: "the capture holds no further request"}, record.EndSessionStop, ""},
		{stopped, os.ErrDeadlineExceeded, record.EndSessionStop, "the car kept the connection open 5s after SessionStop"},
		{failed, io.EOF, record.EndCarClosed, "after ServiceDiscoveryReq answered FAILED_UnknownSession"},
		{failed, os.ErrDeadlineExceeded, record.EndCarClosed, "the car kept the connection open 5s after ServiceDiscoveryReq answered FAILED_UnknownSession"},
		{opened, os.ErrDeadlineExceeded, record.EndTimeout, "no request within 1m0s after the connection opened"},
		{talking, os.ErrDeadlineExceeded, record.EndTimeout, "no request within 1m0s after SessionSetupReq"},
		{talking, v2gtp.ErrTooLong, record.EndError, "bad V2GTP message: " + v2gtp.ErrTooLong.Error()},
		{stopped, reqErr, record.EndError, "ServiceDiscoveryReq: request after the end of the session"},
		{stopped, &WriteError{Request: message.SessionStopReq, Err: io.ErrClosedPipe}, record.EndCarClosed, "writing the answer to SessionStopReq: io: read/write on closed pipe"},
		{stopped, &Hangup{End: record.EndLinkLost, Detail: "the car left during its V2G session"}, record.EndLinkLost, "the car left during its V2G session"},
		{talking, &Hangup{End: record.EndStopped, Detail: "the charger stopped"}, record.EndStopped, "the charger stopped"},
		{talking, errors.New("read tcp: connection reset by peer"), record.EndCarClosed, "read tcp: connection reset by peer"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%v", tc.state, tc.cause), func(t *testing.T) {
			c, evs := connUnder(t, Config{}, reqs[tc.state](t)...)
			end, detail := c.End(t0.Add(time.Hour), tc.cause)
			if end != tc.end || detail != tc.detail {
				t.Errorf("end %v %q, want %v %q", end, detail, tc.end, tc.detail)
			}
			last := (*evs)[len(*evs)-1]
			if last.Kind != record.KindEnded || last.End != tc.end || last.Detail != tc.detail || last.At != t0.Add(time.Hour) {
				t.Errorf("last event %+v", last)
			}
		})
	}
}

// Once the session is over, the transport waits CloseWait after the last
// request for the car to close the connection.
func TestConnDeadlineAfterEnd(t *testing.T) {
	c, _ := connUnder(t, Config{}, sapReq(t),
		dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}}),
		dinReq(t, testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}))
	if !c.Session().Done() || c.Deadline() != t0.Add(3*time.Second+CloseWait) {
		t.Errorf("done %v, deadline %v", c.Session().Done(), c.Deadline())
	}
}
