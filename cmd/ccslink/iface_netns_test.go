package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/record"
)

// ifaceLog is a process's stderr that a test can wait on for a line.
type ifaceLog struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at every write
}

func newIfaceLog() *ifaceLog { return &ifaceLog{changed: make(chan struct{})} }

func (l *ifaceLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.b.Write(p)
}

func (l *ifaceLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor returns the offset after s once the log holds it after offset
// from; it fails the test if ctx ends or the process exits first.
func (l *ifaceLog) waitFor(t *testing.T, ctx context.Context, exited <-chan struct{}, from int, s string) int {
	t.Helper()
	for {
		l.mu.Lock()
		i := strings.Index(l.b.String()[from:], s)
		changed := l.changed
		l.mu.Unlock()
		if i >= 0 {
			return from + i + len(s)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no %q in the daemon's log:\n%s", s, l.String())
		case <-exited:
			if !strings.Contains(l.String()[from:], s) {
				t.Fatalf("the daemon exited without %q in its log:\n%s", s, l.String())
			}
		}
	}
}

// ifaceRig is the daemon on one end of the cable, with a SmartEVSE stub
// and its HTTP API in its namespace, and the car's namespace.
type ifaceRig struct {
	bin      string
	nsE, nsP *netnstest.Namespace
	stub     *smartEVSEStub
	api      string
	daemon   *exec.Cmd
	log      *ifaceLog
	records  chan record.Session
	ctx      context.Context
	exited   chan error
	dead     chan struct{} // closed when the daemon has exited
}

// waitLog waits for s in the daemon's log after offset from.
func (r *ifaceRig) waitLog(t *testing.T, from int, s string) int {
	t.Helper()
	return r.log.waitFor(t, r.ctx, r.dead, from, s)
}

// startIfaceRig builds the command, makes the cable as cfg says and starts
// the daemon with args added.
func startIfaceRig(t *testing.T, cfg netnstest.Config, args ...string) *ifaceRig {
	t.Helper()
	r := &ifaceRig{bin: buildCCSLink(t), stub: &smartEVSEStub{new: make(chan struct{}, 8)}, log: newIfaceLog(),
		records: make(chan record.Session, 4), exited: make(chan error, 1), dead: make(chan struct{})}
	r.nsE, r.nsP = netnstest.NewVethPair(t, cfg)
	r.nsE.IP(t, "link", "set", "lo", "up")
	var ln, apiLn net.Listener
	r.nsE.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if apiLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	r.api = apiLn.Addr().String()
	apiLn.Close()
	srv := &http.Server{Handler: r.stub}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	t.Cleanup(cancel)
	r.ctx = ctx
	r.daemon = r.nsE.Command(ctx, r.bin, append([]string{"evse", "--config", "/dev/null", "--iface", r.nsE.Iface, "--emulate-modem", "--json",
		"--smartevse", "http://" + ln.Addr().String(), "--http", r.api}, args...)...)
	r.daemon.Stderr = r.log
	stdout, err := r.daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.daemon.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var rec record.Session
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("daemon record %q: %v", sc.Bytes(), err)
				continue
			}
			r.records <- rec
		}
		err := r.daemon.Wait()
		close(r.dead)
		r.exited <- err
	}()
	t.Cleanup(func() {
		r.daemon.Process.Kill()
		<-r.exited
	})
	return r
}

// car runs ccslink pev as the Ioniq in the car's namespace.
func (r *ifaceRig) car(t *testing.T) pevReport {
	t.Helper()
	car := r.nsP.Command(r.ctx, r.bin, "pev", "--iface", r.nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "40s")
	var out, errs bytes.Buffer
	car.Stdout, car.Stderr = &out, &errs
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, out.String(), errs.String(), r.log.String())
	}
	var rep pevReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", out.String(), err)
	}
	return rep
}

// record waits for the daemon's next plug-in record.
func (r *ifaceRig) record(t *testing.T) record.Session {
	t.Helper()
	select {
	case rec := <-r.records:
		return rec
	case err := <-r.exited:
		t.Fatalf("the daemon ended (%v) without a record\n%s", err, r.log.String())
	case <-r.ctx.Done():
		t.Fatalf("no record from the daemon\n%s", r.log.String())
	}
	panic("unreachable")
}

// posts returns what the SmartEVSE stub got.
func (r *ifaceRig) posts() []stubPost {
	r.stub.mu.Lock()
	defer r.stub.mu.Unlock()
	return append([]stubPost(nil), r.stub.got...)
}

// served runs a car and checks that it, the SmartEVSE, the API and the
// daemon's record all have exactly its values; it returns the SmartEVSE's post.
func (r *ifaceRig) served(t *testing.T) stubPost {
	t.Helper()
	before := len(r.posts())
	rep := r.car(t)
	if !rep.OK || rep.Protocol != "din" || rep.EVCCID != "02000000ca01" || rep.SoC != 93 || rep.End != "EVSE shutdown" {
		t.Fatalf("car: %+v\ndaemon:\n%s", rep, r.log.String())
	}
	for len(r.posts()) <= before {
		select {
		case <-r.stub.new:
		case <-r.ctx.Done():
			t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", r.log.String())
		}
	}
	rec := r.record(t)
	if rec.SoC.Value != 93 || rec.EVCCIDHex() != "02000000ca01" || rec.EVMAC != "02:00:00:00:ca:01" || rec.End != record.EndSessionStop || rec.Phases.Delivered.IsZero() {
		t.Fatalf("record: %+v", rec)
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	posts := r.posts()
	if len(posts) != before+1 || posts[before].query != want {
		t.Fatalf("the SmartEVSE got %v after %d earlier posts, want %q once", posts, before, want)
	}
	var state struct {
		SoC    int    `json:"soc"`
		EVCCID string `json:"evccid"`
	}
	if err := json.Unmarshal(nsGet(t, r.nsE, r.api, "/api/state"), &state); err != nil || state.SoC != 93 || state.EVCCID != "02000000ca01" {
		t.Errorf("/api/state: %+v %v", state, err)
	}
	return posts[before]
}

// logTime returns the time of the daemon's log line that holds s.
func (r *ifaceRig) logTime(t *testing.T, s string) time.Time {
	t.Helper()
	for _, line := range strings.Split(r.log.String(), "\n") {
		if !strings.Contains(line, s) {
			continue
		}
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "time=") {
			at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time="))
			if err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			return at
		}
	}
	t.Fatalf("no %q in the daemon's log:\n%s", s, r.log.String())
	return time.Time{}
}

// stop ends the daemon with SIGTERM; it must exit cleanly.
func (r *ifaceRig) stop(t *testing.T) {
	t.Helper()
	r.daemon.Process.Signal(syscall.SIGTERM)
	if err := <-r.exited; err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, r.log.String())
	}
	r.exited <- nil // for the cleanup
}

// TestEVSEInterfaceResetIdle: the interface deleted and created again
// while no car is plugged in (a modem driver reload). The daemon says so,
// reopens its sockets on the new interface and serves the next car; its
// outputs (the SmartEVSE sender, the API) carry on. The time from the
// interface's return to the car's SoC at the SmartEVSE is logged.
func TestEVSEInterfaceResetIdle(t *testing.T) {
	r := startIfaceRig(t, netnsEVSE)
	at := r.waitLog(t, 0, "ready: waiting for a car")
	old := r.nsE.Index
	netnstest.DeletePair(t, r.nsE, r.nsP)
	at = r.waitLog(t, at, "evse0 disappeared (modem driver reset?); waiting for it to return")
	back := time.Now()
	netnstest.RecreatePair(t, r.nsE, r.nsP)
	if r.nsE.Index == old {
		t.Fatalf("the interface kept its index %d", old)
	}
	r.waitLog(t, at, "evse0 is back; serving cars again")
	serving := r.logTime(t, "evse0 is back; serving cars again")
	carStart := time.Now()
	post := r.served(t)
	t.Logf("interface back: the daemon serving again after %v; the next car's SoC at the SmartEVSE after %v (%v after the car started)",
		serving.Sub(back).Round(time.Millisecond), post.at.Sub(back).Round(time.Millisecond), post.at.Sub(carStart).Round(time.Millisecond))
	r.stop(t)
	t.Logf("daemon:\n%s", r.log.String())
}

// TestEVSEInterfaceResetMidSession: the interface goes in the middle of
// a car's V2G session (the car paced as the real one, 270 ms between an
// answer and its next request). Its plug-in ends as interface_lost, and
// the next car is served once the interface is back.
func TestEVSEInterfaceResetMidSession(t *testing.T) {
	r := startIfaceRig(t, netnsEVSE, "-v")
	at := r.waitLog(t, 0, "ready: waiting for a car")
	car := r.nsP.Command(r.ctx, r.bin, "pev", "--iface", r.nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--paced", "--timeout", "40s")
	if err := car.Start(); err != nil {
		t.Fatal(err)
	}
	carDone := make(chan error, 1)
	go func() { carDone <- car.Wait() }()
	// Its ServiceDiscoveryReq is 270 ms away: the interface goes first.
	at = r.waitLog(t, at, "request=SessionSetupReq code=OK_NewSessionEstablished")
	netnstest.DeletePair(t, r.nsE, r.nsP)
	rec := r.record(t)
	car.Process.Kill()
	<-carDone
	if rec.End != record.EndIfaceLost || rec.Detail != "evse0 disappeared (modem driver reset?)" || rec.EVMAC != "02:00:00:00:ca:01" ||
		rec.EVCCIDHex() != "02000000ca01" || rec.SoC.Known || rec.Phases.Matched.IsZero() {
		t.Fatalf("the first car's record: end %v %q, car %q, EVCCID %q, SoC %+v, matched %v", rec.End, rec.Detail, rec.EVMAC, rec.EVCCIDHex(), rec.SoC, rec.Phases.Matched)
	}
	// The car's session ended without a SoC: its EVCCID goes to the
	// SmartEVSE alone, as after any such session.
	select {
	case <-r.stub.new:
	case <-r.ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\n%s", r.log.String())
	}
	if p := r.posts(); len(p) != 1 || p[0].query != "current_soc=-1&full_soc=-1&energy_capacity=-1&energy_request=-1&evccid=02000000ca01" {
		t.Fatalf("the SmartEVSE got %v", p)
	}
	at = r.waitLog(t, at, "evse0 disappeared (modem driver reset?); waiting for it to return")
	netnstest.RecreatePair(t, r.nsE, r.nsP)
	r.waitLog(t, at, "evse0 is back; serving cars again")
	r.served(t)
	r.stop(t)
}

// TestEVSETentativeAtStart: at boot the interface's link-local address is
// still in duplicate address detection. The daemon waits for it, says so,
// and serves the car.
func TestEVSETentativeAtStart(t *testing.T) {
	cfg := netnsEVSE
	cfg.TentativeA = 2 * time.Second
	r := startIfaceRig(t, cfg)
	at := r.waitLog(t, 0, `msg="waiting for evse0" why="its link-local address is tentative (duplicate address detection, usually 1-2 s)" within=30s address=fe80::ff:fe00:e501`)
	r.waitLog(t, at, "ready: waiting for a car")
	r.served(t)
	r.stop(t)
	t.Logf("daemon:\n%s", r.log.String())
}

// TestEVSEInterfaceGivesUp: an interface that does not return, or whose
// address never becomes usable, within --iface-wait: the daemon exits with
// an error that says what to do, so that systemd starts it afresh.
func TestEVSEInterfaceGivesUp(t *testing.T) {
	t.Run("gone", func(t *testing.T) {
		r := startIfaceRig(t, netnsEVSE, "--iface-wait", "1s")
		r.waitLog(t, 0, "ready: waiting for a car")
		netnstest.DeletePair(t, r.nsE, r.nsP)
		r.exitsWith(t, "ccslink evse: evse0 disappeared and did not return: evse0 not usable after 1s: there is no interface evse0 (is the modem's driver loaded? `ip link` lists the interfaces); exiting so that the service manager starts ccslink afresh\n")
	})
	t.Run("tentative", func(t *testing.T) {
		cfg := netnsEVSE
		cfg.TentativeA = 20 * time.Second
		r := startIfaceRig(t, cfg, "--iface-wait", "1s")
		r.exitsWith(t, "ccslink evse: evse0 not usable after 1s: evse0's link-local address fe80::ff:fe00:e501 is still tentative (duplicate address detection has not finished); if this lasts, turn detection off for it: sysctl net.ipv6.conf.evse0.accept_dad=0\n")
	})
}

// exitsWith waits for the daemon to exit with status 1 and the last line.
func (r *ifaceRig) exitsWith(t *testing.T, last string) {
	t.Helper()
	var err error
	select {
	case err = <-r.exited:
	case <-r.ctx.Done():
		t.Fatalf("the daemon did not exit\n%s", r.log.String())
	}
	r.exited <- err // for the cleanup
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("daemon: %v, want exit status 1\n%s", err, r.log.String())
	}
	if log := r.log.String(); !strings.HasSuffix(log, last) {
		t.Fatalf("the daemon's last words:\n%s\nwant\n%s", log, last)
	}
}
