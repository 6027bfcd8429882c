package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/internal/mosquittotest"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/evsetwin"
)

// lineLog is a process's output read while it is written: its whole lines,
// and a signal whenever one more came.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	more    chan struct{} // closed and replaced on every line
}

func newLineLog() *lineLog { return &lineLog{more: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		close(l.more)
		l.more = make(chan struct{})
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n" + string(l.partial)
}

// await returns the n-th line (from 1) that holds text, once it came; ok is
// false when ctx ended first.
func (l *lineLog) await(ctx context.Context, text string, n int) (line string, ok bool) {
	for {
		l.mu.Lock()
		seen := 0
		for _, s := range l.lines {
			if strings.Contains(s, text) {
				if seen++; seen == n {
					l.mu.Unlock()
					return s, true
				}
			}
		}
		more := l.more
		l.mu.Unlock()
		select {
		case <-more:
		case <-ctx.Done():
			return "", false
		}
	}
}

// dialIn connects to addr from inside ns, on the test's goroutine.
func dialIn(t *testing.T, ns *netnstest.Namespace, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	ns.Do(t, func() { c, err = net.DialTimeout("tcp4", addr, 20*time.Second) })
	if err != nil {
		t.Fatalf("cannot connect to %s in the charger's namespace: %v", addr, err)
	}
	return c
}

// collectorIn subscribes to everything on the broker at brokerURL, which
// listens inside ns.
func collectorIn(t *testing.T, ns *netnstest.Namespace, brokerURL string) *collector {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn := dialIn(t, ns, u.Host)
	c := &collector{last: map[string]string{}, more: make(chan struct{})}
	opts := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("test-collector").SetAutoReconnect(false).
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) { return conn, nil })
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot connect to %s: %v", brokerURL, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	tok := cl.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		c.mu.Lock()
		c.last[m.Topic()] = string(m.Payload())
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
	})
	if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("test subscriber cannot subscribe: %v", tok.Error())
	}
	return c
}

// until waits until topic's last payload satisfies ok, at most 20 s, and
// returns it; false when it never did.
func (c *collector) until(topic string, ok func(payload string) bool) (string, bool) {
	timeout := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got, have := c.last[topic]
		more := c.more
		c.mu.Unlock()
		if have && ok(got) {
			return got, true
		}
		select {
		case <-more:
		case <-timeout:
			return got, false
		}
	}
}

// outcomeOf is what a record, a topic or the API says of a plug-in's
// handover and car, as the JSON they carry.
type outcomeOf struct {
	Handover json.RawMessage `json:"handover"`
	Vehicle  json.RawMessage `json:"vehicle"`
}

// recordOf is the same of a plug-in's whole record, with its EVCCID.
type recordOf struct {
	outcomeOf
	EVCCID struct {
		Hex string `json:"hex"`
	} `json:"evccid"`
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return buf.String()
}

// TestEVSEHandoverOverVeth: the daemon on one end of a veth pair with its
// emulated modem, ccslink pev playing an ID.3 (a new random MAC per
// plug-in) on the other, the SmartEVSE twin on the charger's loopback, its
// pilot followed by the car's pilot side, Debian's mosquitto and the HTTP
// API. The car plugs in twice. The first plug-in is handed over as today
// (deliver-now) and the car, which wants 100 % for 2 s after a V2G session,
// does not charge: no_ac after the 20 s watch. The second, known by its
// fingerprint, gets x1-then-pwm and charges. The handover and the car are
// the same, byte for byte, in the --json record, the history file, the
// retained MQTT topics, /api/state and /api/sessions.
func TestEVSEHandoverOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	var brokerURL string
	nsE.Do(t, func() { brokerURL = mosquittotest.Start(t) }) // mosquitto runs in the charger's namespace
	bin := buildCCSLink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// The SmartEVSE twin, on the charger's loopback; its pilot is the car's.
	car, err := evcc.Lookup("id3")
	if err != nil {
		t.Fatal(err)
	}
	// A shorter wait for the SoC than the firmware's 60 s: a SoC that never
	// came shows as MODEM_DONE "without a SoC" sooner.
	twin := evsetwin.New(evsetwin.Config{ModemWaitTicks: 40})
	twinDone := make(chan error, 1)
	go func() { twinDone <- twin.Run(ctx) }()
	defer func() { cancel(); <-twinDone }()
	var twinLn, free net.Listener
	nsE.Do(t, func() {
		if twinLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			return
		}
		free, err = net.Listen("tcp4", "127.0.0.1:0") // a port for the API: the namespace is the test's alone
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: twin}
	go srv.Serve(twinLn)
	defer srv.Close()
	apiAddr := free.Addr().String()
	free.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "ccslink.yaml")
	// The watch: the twin's CP-off (5 s), x1-then-pwm's 7 s and 2 s, a margin.
	// The ID.3 sends no capacity: the fallback gives it one.
	conf := "smartevse:\n  watch: 20s\n  write_pwm: true\ncapacity_fallback:\n  - evccid: \"*\"\n    capacity_wh: 58000\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(dir, "state")
	daemon := nsE.Command(ctx, bin, "evse", "--config", cfg, "--iface", nsE.Iface, "--emulate-modem", "--json", "--name", "veth",
		"--smartevse", "http://"+twinLn.Addr().String(), "--mqtt", brokerURL, "--http", apiAddr, "--state-dir", stateDir)
	dOut, dErr := newLineLog(), newLineLog()
	daemon.Stdout, daemon.Stderr = dOut, dErr
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Process.Kill()
	if _, ok := dErr.await(ctx, "ready: waiting for a car", 1); !ok {
		t.Fatalf("the daemon is not ready\n%s", dErr.String())
	}
	sub := collectorIn(t, nsE, brokerURL)

	var records []outcomeOf
	var evccids, vehicles []string
	for i := range 2 {
		// The car's pilot side, in the test: plugged in, it sees the twin's
		// 5 % PWM and starts its V2G side, the pev process, which cannot see
		// a pilot. Whether it takes the later nominal PWM depends on that
		// session: told now, as the pilot stays at 5 % until the SoC is
		// delivered, it is as if told when the session began.
		pc := evcc.PlugIn(car, twin.Line())
		select {
		case <-pc.Digital():
		case <-ctx.Done():
			t.Fatalf("plug-in %d: the twin never offered 5 %% PWM (%v)", i+1, twin.Snapshot().State)
		}
		pc.SessionHeld()
		pev := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", car.Name, "--timeout", "60s")
		var pOut, pErr bytes.Buffer
		pev.Stdout, pev.Stderr = &pOut, &pErr
		if err := pev.Run(); err != nil {
			t.Fatalf("plug-in %d: pev: %v\n%s%s\ndaemon:\n%s", i+1, err, pOut.String(), pErr.String(), dErr.String())
		}
		var rep pevReport
		if err := json.Unmarshal(pOut.Bytes(), &rep); err != nil || !rep.OK || rep.SoC != car.SoC || rep.Protocol != "din" {
			t.Fatalf("plug-in %d: pev said %q: %v", i+1, pOut.String(), err)
		}
		evccids = append(evccids, rep.EVCCID)

		// The record: the --json line waits for the handover.
		line, ok := dOut.await(ctx, `"handover":`, i+1)
		if !ok {
			t.Fatalf("plug-in %d: no record with a handover\nstdout:\n%s\nstderr:\n%s", i+1, dOut.String(), dErr.String())
		}
		var rec record.Session
		var got outcomeOf
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		if rec.EVCCIDHex() != rep.EVCCID || rec.Handover == nil || rec.Vehicle == nil || rec.EnergyCapacityWh.Value != 58000 || rec.EnergyCapacityWh.From != "config" {
			t.Fatalf("plug-in %d: record of %s: %s", i+1, rep.EVCCID, line)
		}
		records = append(records, got)
		vehicles = append(vehicles, compactJSON(t, got.Vehicle))
		h, v := rec.Handover, rec.Vehicle
		switch i {
		case 0:
			// deliver-now: the car wants 100 % before the PWM, and gets none.
			if h.Strategy != record.StrategyDeliverNow || h.ACStarted || h.Outcome() != record.OutcomeNoAC || h.Watched != 20*time.Second ||
				strings.Contains(string(got.Handover), "ac_after_ms") {
				t.Errorf("first handover %s", got.Handover)
			}
			if v.By != record.ByNew || v.ID != rep.EVCCID || v.Confidence != 0 {
				t.Errorf("first plug-in's car %s, want new as %s", got.Vehicle, rep.EVCCID)
			}
		case 1:
			// x1-then-pwm: the car draws current at the PWM after 2 s at 100 %,
			// which comes 7 s after the delivery.
			if h.Strategy != record.StrategyX1ThenPWM || !h.ACStarted || h.Outcome() != record.OutcomeACStarted ||
				h.ACAfter < 9*time.Second || h.ACAfter >= 20*time.Second || !strings.Contains(string(got.Handover), fmt.Sprintf(`"ac_after_ms":%d,`, h.ACAfter.Milliseconds())) {
				t.Errorf("second handover %s", got.Handover)
			}
			if v.By != record.ByFingerprint || v.Confidence < vehicle.Threshold || v.Confidence > 1 {
				t.Errorf("second plug-in's car %s, want known by its fingerprint", got.Vehicle)
			}
		}
		wantH, wantV := compactJSON(t, got.Handover), vehicles[i]

		// MQTT: the retained topics, once the output published them.
		const p = "ccslink/veth/"
		sub.wait(t, p+"handover", wantH)
		sub.wait(t, p+"vehicle", wantV)
		sub.wait(t, p+"vehicle_id", v.ID)
		sub.wait(t, p+"energy_capacity", "58000")
		// The session topic comes after the values' topics.
		var mqttRec outcomeOf
		if _, ok := sub.until(p+"session", func(payload string) bool {
			mqttRec = outcomeOf{}
			return json.Unmarshal([]byte(payload), &mqttRec) == nil && len(mqttRec.Handover) > 0
		}); !ok {
			t.Fatalf("plug-in %d: no record with a handover on %ssession", i+1, p)
		}
		if compactJSON(t, mqttRec.Handover) != wantH || compactJSON(t, mqttRec.Vehicle) != wantV {
			t.Errorf("plug-in %d: MQTT session topic: handover %s vehicle %s, want %s %s", i+1, mqttRec.Handover, mqttRec.Vehicle, wantH, wantV)
		}

		// The API: the state shown is the last plug-in's, the list has it first.
		var st struct {
			outcomeOf
			CapacityWh *int   `json:"energy_capacity_wh"`
			Source     string `json:"energy_capacity_source"`
		}
		if err := json.Unmarshal(nsGet(t, nsE, apiAddr, "/api/state"), &st); err != nil {
			t.Fatal(err)
		}
		if compactJSON(t, st.Handover) != wantH || compactJSON(t, st.Vehicle) != wantV {
			t.Errorf("plug-in %d: /api/state: handover %s vehicle %s, want %s %s", i+1, st.Handover, st.Vehicle, wantH, wantV)
		}
		if st.CapacityWh == nil || *st.CapacityWh != 58000 || st.Source != "config" {
			t.Errorf("plug-in %d: /api/state: capacity %v from %q, want 58000 from the configuration", i+1, st.CapacityWh, st.Source)
		}
		// (A matching that failed and was tried again is a plug-in of its own.)
		var list []recordOf
		if err := json.Unmarshal(nsGet(t, nsE, apiAddr, "/api/sessions"), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 || list[0].EVCCID.Hex != rep.EVCCID || compactJSON(t, list[0].Handover) != wantH || compactJSON(t, list[0].Vehicle) != wantV {
			t.Errorf("plug-in %d: /api/sessions: the newest of %d is %+v, want %s with %s %s", i+1, len(list), list, rep.EVCCID, wantH, wantV)
		}
		pc.Unplug()
	}
	if evccids[0] == evccids[1] {
		t.Errorf("the ID.3 used EVCCID %s twice; its MAC is random per plug-in", evccids[0])
	}
	var v0, v1 record.Vehicle
	json.Unmarshal(records[0].Vehicle, &v0)
	json.Unmarshal(records[1].Vehicle, &v1)
	if v0.ID != v1.ID || v0.Name != v1.Name {
		t.Errorf("the same car is %s, then %s", vehicles[0], vehicles[1])
	}

	// The history file, whole once the daemon stopped: one line per plug-in.
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	b, err := os.ReadFile(filepath.Join(stateDir, history.File))
	if err != nil {
		t.Fatal(err)
	}
	var kept []recordOf
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var r recordOf
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.EVCCID.Hex != "" {
			kept = append(kept, r)
		}
	}
	if len(kept) != 2 {
		t.Fatalf("%d plug-ins with an EVCCID in the history, want 2:\n%s", len(kept), b)
	}
	for i, h := range kept {
		if h.EVCCID.Hex != evccids[i] || compactJSON(t, h.Handover) != compactJSON(t, records[i].Handover) || compactJSON(t, h.Vehicle) != vehicles[i] {
			t.Errorf("history line of %s: handover %s vehicle %s, want %s: %s %s", h.EVCCID.Hex, h.Handover, h.Vehicle, evccids[i], records[i].Handover, vehicles[i])
		}
	}
	t.Logf("first: %s %s", compactJSON(t, records[0].Handover), vehicles[0])
	t.Logf("second: %s %s", compactJSON(t, records[1].Handover), vehicles[1])
}
