package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
)

// TestEVSEStoppedAfterMatch: the daemon, with no HTTP API, is stopped by
// SIGTERM after a car matched and before it said anything over IPv6. The
// plug-in is in the session history all the same, ended "stopped", and the
// history file is 0640 though the daemon ran with umask 0.
func TestEVSEStoppedAfterMatch(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)
	stateDir := filepath.Join(t.TempDir(), "state")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--state-dir", stateDir)
	stderr, err := daemon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	err = daemon.Start()
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()
	// The daemon's log, all of it for failures, and a signal per line awaited.
	var dErr testlog.Buffer
	seen := map[string]chan struct{}{"ready: waiting for a car": make(chan struct{}), "car matched": make(chan struct{})}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		closed := map[string]bool{}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			dErr.Write(append(sc.Bytes(), '\n'))
			for what, c := range seen {
				if !closed[what] && strings.Contains(sc.Text(), what) {
					close(c)
					closed[what] = true
				}
			}
		}
	}()
	await := func(what string) {
		t.Helper()
		select {
		case <-seen[what]:
		case <-ended:
			t.Fatalf("the daemon ended before %q\n%s", what, dErr.String())
		case <-ctx.Done():
			t.Fatalf("no %q from the daemon\n%s", what, dErr.String())
		}
	}
	await("ready: waiting for a car")

	// The car matches through an emulated modem of its own and stays on the
	// line, silent.
	var (
		port     slac.Port
		unplug   func()
		matchErr = make(chan error, 1)
	)
	nsP.Do(t, func() {
		port, _, _, unplug, err = homePlugPort(ctx, nsP.Iface, true, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unplug()
	go func() {
		// As a real car, again after a failed attempt: the charger may still
		// be keying its modem.
		for {
			_, err := slac.MatchPEV(ctx, port, clock.Real{}, slac.PEVConfig{MAC: [6]byte(netnsEVSE.MACB)})
			if err == nil || ctx.Err() != nil {
				matchErr <- err
				return
			}
		}
	}()
	if err := <-matchErr; err != nil {
		t.Fatalf("the car did not match: %v\n%s", err, dErr.String())
	}
	await("car matched")
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}

	path := filepath.Join(stateDir, history.File)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no session history: %v\n%s", err, dErr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines in the history, want 1:\n%s", len(lines), b)
	}
	var rec record.Session
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.EVMAC != "02:00:00:00:ca:01" || rec.End != record.EndStopped || rec.Phases.Matched.IsZero() || !rec.Phases.SDP.IsZero() || rec.Phases.Ended.IsZero() {
		t.Errorf("record: ev_mac %s end %v matched %v sdp %v ended %v", rec.EVMAC, rec.End, rec.Phases.Matched, rec.Phases.SDP, rec.Phases.Ended)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode() != history.FileMode {
		t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, history.FileMode)
	}
	if di, err := os.Stat(stateDir); err != nil || di.Mode() != os.ModeDir|0o750 {
		t.Errorf("%s: mode %v (%v), want drwxr-x---", stateDir, di.Mode(), err)
	}
}
