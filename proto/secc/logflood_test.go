package secc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// countingWriter counts what the log writes and keeps the first bytes.
type countingWriter struct {
	mu    sync.Mutex
	n     int
	lines int
	head  strings.Builder
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(p)
	w.lines += strings.Count(string(p), "\n")
	if w.head.Len() < 4096 {
		w.head.Write(p)
	}
	return len(p), nil
}

// TestServerUndecodableFlood: 1,000 connections, each sending one message
// of 8,000 undecodable bytes, cost the log one short line, not megabytes (16
// MB before): a 64-byte hex excerpt with the length, one line per peer per
// interval; the next line counts those held back.
func TestServerUndecodableFlood(t *testing.T) {
	const conns, size = 1000, 8000
	var logs countingWriter
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var nowMu sync.Mutex
	s := NewServer(Config{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime})), NewSessionID: func() [8]byte { return testSID }}, nil)
	s.peerLog = ratelog.New(PeerLogInterval, 0, func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now })
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	stop := sync.OnceFunc(func() { cancel(); <-served })
	defer stop()

	garbage := make([]byte, size)
	for i := range garbage {
		garbage[i] = byte(i)
	}
	msg := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, garbage)
	deadline := time.Now().Add(2 * time.Minute)
	send := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(deadline)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		// The charger cannot answer a handshake it could not read: it
		// closes, and so the car is done.
		if n, err := io.Copy(io.Discard, c); n != 0 || err != nil {
			t.Fatalf("read %d bytes, %v; want the charger to close", n, err)
		}
	}
	for i := 0; i < conns; i++ {
		send()
	}
	nowMu.Lock()
	now = now.Add(PeerLogInterval)
	nowMu.Unlock()
	send()
	stop() // every line is written

	logs.mu.Lock()
	defer logs.mu.Unlock()
	t.Logf("%d undecodable messages of %d bytes over %d connections: %d bytes, %d lines of log", conns+1, size, conns+1, logs.n, logs.lines)
	line := "level=WARN msg=\"the car's request failed\" car=127.0.0.1:%s err=\"supportedAppProtocolReq: request does not decode: exi: bit 0: not an EXI stream: header byte 0x00 (8000 bytes, the first 64: " + hexExcerpt(garbage) + "...)\"%s\n"
	got := strings.Split(strings.TrimSuffix(logs.head.String(), "\n"), "\n")
	if len(got) != 2 || logs.lines != 2 {
		t.Fatalf("%d lines (%d bytes) of log, want 2:\n%.2000s", logs.lines, logs.n, logs.head.String())
	}
	for i, suffix := range []string{"", " suppressed=999"} {
		port := got[i][strings.Index(got[i], "car=127.0.0.1:")+len("car=127.0.0.1:"):]
		port = port[:strings.IndexByte(port, ' ')]
		if want := fmt.Sprintf(line, port, suffix); got[i]+"\n" != want {
			t.Fatalf("line %d\n got %s\nwant %s", i+1, got[i], want)
		}
	}
	if logs.n > 1024 {
		t.Fatalf("%d bytes of log", logs.n)
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}
