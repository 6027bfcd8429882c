package secc

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

type events struct {
	mu  sync.Mutex
	all []record.Event
	end chan record.Event
}

func (e *events) emit(ev record.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	if ev.Kind == record.KindEnded {
		e.end <- ev
	}
}

func startServer(t *testing.T, cfg Config) (*Server, string, *events) {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{end: make(chan record.Event, 8)}
	if cfg.NewSessionID == nil {
		cfg.NewSessionID = func() [8]byte { return testSID }
	}
	s := NewServer(cfg, ev.emit)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String(), ev
}

func frame(t *testing.T, payload []byte) []byte {
	return v2gtp.AppendMessage(nil, v2gtp.TypeEXI, payload)
}

func sapReq(t *testing.T) []byte {
	b, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerDIN}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dinReq(t *testing.T, sid []byte, body din.BodyType) []byte {
	b, err := din.Marshal(&din.Document{V2G_Message: &din.V2G_Message{Header: din.MessageHeaderType{SessionID: sid}, Body: body}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange writes one message and reads one answer.
func exchange(t *testing.T, c net.Conn, r *v2gtp.Reader, payload []byte) []byte {
	t.Helper()
	if _, err := c.Write(frame(t, payload)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, p, err := r.Next()
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return append([]byte(nil), p...)
}

func TestServerSession(t *testing.T) {
	_, addr, ev := startServer(t, Config{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := v2gtp.NewReader(c)
	exchange(t, c, r, sapReq(t))
	exchange(t, c, r, dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}}))
	p := exchange(t, c, r, dinReq(t, testSID[:], din.BodyType{SessionStopReq: &din.SessionStopType{}}))
	var doc din.Document
	if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message.Body.SessionStopRes == nil {
		t.Fatalf("answer %x: %v", p, err)
	}
	// The charger never closes first: the connection is still open.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := r.Next(); !errors.Is(err, errTimeout) && !isTimeout(err) {
		t.Fatalf("after SessionStop the charger did not wait for the car: %v", err)
	}
	c.Close()
	e := <-ev.end
	if e.End != record.EndSessionStop {
		t.Fatalf("end %v (%s)", e.End, e.Detail)
	}
	var requests []string
	for _, x := range ev.all {
		if x.Kind == record.KindRequest {
			requests = append(requests, x.Message.String()+"/"+x.Code)
			if x.Took <= 0 || x.Took > time.Second {
				t.Errorf("answer time %v", x.Took)
			}
		}
	}
	want := []string{"supportedAppProtocolReq/OK_SuccessfulNegotiation", "SessionSetupReq/OK_NewSessionEstablished", "SessionStopReq/OK"}
	if len(requests) != len(want) {
		t.Fatalf("requests %v, want %v", requests, want)
	}
	for i := range want {
		if requests[i] != want[i] {
			t.Fatalf("requests %v, want %v", requests, want)
		}
	}
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServerBadStreams(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		end   record.End
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), record.EndError},
		{"oversized", v2gtp.AppendHeader(nil, v2gtp.Header{Type: v2gtp.TypeEXI, Length: 1 << 30}), record.EndError},
		{"ISO-20 payload type", v2gtp.AppendMessage(nil, v2gtp.TypeISO20DC, []byte{0x80}), record.EndError},
		{"undecodable SAP", v2gtp.AppendMessage(nil, v2gtp.TypeEXI, []byte{0x80, 0x00, 0xff}), record.EndError},
	}
	_, addr, ev := startServer(t, Config{})
	for _, tc := range tests {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(tc.bytes)
		// The charger closes this connection only.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 64)); err != io.EOF {
			t.Errorf("%s: read %d, %v; want the connection closed", tc.name, n, err)
		}
		c.Close()
		if e := <-ev.end; e.End != tc.end || e.Detail == "" {
			t.Errorf("%s: end %v %q", tc.name, e.End, e.Detail)
		}
	}
	// And serves the next car.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := v2gtp.NewReader(c)
	var doc apphand.Document
	if _, err := apphand.Unmarshal(exchange(t, c, r, sapReq(t)), &doc); err != nil || doc.SupportedAppProtocolRes.ResponseCode != apphand.ResponseCodeOK_SuccessfulNegotiation {
		t.Fatalf("after bad streams: %+v %v", doc, err)
	}
}

func TestServerSecondConnection(t *testing.T) {
	_, addr, ev := startServer(t, Config{})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	r1 := v2gtp.NewReader(first)
	exchange(t, first, r1, sapReq(t))
	exchange(t, first, r1, dinReq(t, []byte{0}, din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}}))

	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	r2 := v2gtp.NewReader(second)
	exchange(t, second, r2, sapReq(t))
	// The car rejoins its session on the new connection.
	p := exchange(t, second, r2, dinReq(t, testSID[:], din.BodyType{SessionSetupReq: &din.SessionSetupReqType{EVCCID: []byte{1, 2, 3, 4, 5, 6}}}))
	var doc din.Document
	if _, err := din.Unmarshal(p, &doc); err != nil || doc.V2G_Message.Body.SessionSetupRes.ResponseCode != din.ResponseCodeOK_OldSessionJoined {
		t.Fatalf("rejoin: %+v %v", doc.V2G_Message, err)
	}
	// The first was closed by the charger.
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := r1.Next(); err != io.EOF {
		t.Fatalf("old connection: %v", err)
	}
	if e := <-ev.end; e.End != record.EndCarClosed && e.End != record.EndStopped {
		t.Fatalf("old connection's end %v", e.End)
	}
}

func TestServerSilentCar(t *testing.T) {
	_, addr, ev := startServer(t, Config{SequenceTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := v2gtp.NewReader(c)
	exchange(t, c, r, sapReq(t))
	// The car says nothing more: V2G_SECC_Sequence_Timeout ends the session.
	e := <-ev.end
	if e.End != record.EndTimeout || e.Detail != "no request within 100ms after supportedAppProtocolReq" {
		t.Fatalf("end %v %q", e.End, e.Detail)
	}
}
