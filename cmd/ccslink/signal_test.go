package main

import (
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
)

// TestStopContextSIGTERM: SIGTERM ends the context, and the log says so.
func TestStopContextSIGTERM(t *testing.T) {
	var logs testlog.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}))
	ctx, stop := stopContext(log)
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not end the context")
	}
	// The line is written before the context ends.
	if got, want := logs.String(), "level=INFO msg=\"stopping: SIGTERM received\"\n"; got != want {
		t.Fatalf("log %q, want %q", got, want)
	}
}
