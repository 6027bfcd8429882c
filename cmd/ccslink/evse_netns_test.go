package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/record"
)

// startDaemon starts the daemon's command: its log goes to the returned
// buffer and each line it prints (a record with --json) to the channel,
// closed when it exits. It is killed when the test ends.
func startDaemon(t *testing.T, daemon *exec.Cmd) (*testlog.Buffer, <-chan []byte) {
	t.Helper()
	dErr := &testlog.Buffer{}
	daemon.Stderr = dErr
	stdout, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill() })
	lines := make(chan []byte, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	return dErr, lines
}

// brokerPublishes keeps the last payload of every topic the broker got.
type brokerPublishes struct {
	mochi.HookBase
	mu   sync.Mutex
	got  map[string]string
	more chan struct{} // closed and replaced on every publish; nil: none
}

func (h *brokerPublishes) ID() string           { return "publishes" }
func (h *brokerPublishes) Provides(b byte) bool { return b == mochi.OnPublish }
func (h *brokerPublishes) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	h.got[pk.TopicName] = string(pk.Payload)
	if h.more != nil {
		close(h.more)
		h.more = make(chan struct{})
	}
	h.mu.Unlock()
	return pk, nil
}

// await waits until topic's last payload is want, or ctx ends; it returns the last payload.
func (h *brokerPublishes) await(ctx context.Context, topic, want string) string {
	for {
		h.mu.Lock()
		got, more := h.got[topic], h.more
		h.mu.Unlock()
		if got == want || more == nil {
			return got
		}
		select {
		case <-more:
		case <-ctx.Done():
			return got
		}
	}
}

func (h *brokerPublishes) get(topic string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[topic]
}

func (h *brokerPublishes) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k := range h.got {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// nsGet fetches path from addr inside ns: the connection is made there.
func nsGet(t *testing.T, ns *netnstest.Namespace, addr, path string) []byte {
	t.Helper()
	var c net.Conn
	ns.Do(t, func() {
		var err error
		if c, err = net.Dial("tcp4", addr); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, res.Status, b)
	}
	return b
}

// serveStub serves a smartEVSEStub on addr in ns until the test ends and
// returns it with its URL.
func serveStub(t *testing.T, ns *netnstest.Namespace, addr string) (*smartEVSEStub, string) {
	t.Helper()
	stub := &smartEVSEStub{new: make(chan struct{}, 8)}
	var ln net.Listener
	ns.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", addr); err != nil {
			t.Fatal(err)
		}
	})
	srv := &http.Server{Handler: stub}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return stub, "http://" + ln.Addr().String()
}

// smartEVSEStub takes POST /ev_state as a SmartEVSE does and remembers when
// each query arrived; its GET /settings says MODEM_WAIT until then, and C
// (the car charges on AC) after.
type smartEVSEStub struct {
	mu  sync.Mutex
	got []stubPost
	new chan struct{}
}

type stubPost struct {
	query string
	at    time.Time
}

func (s *smartEVSEStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/settings" {
		s.mu.Lock()
		state, name, iec := 12, "Modem Wait", "B"
		if len(s.got) > 0 {
			state, name, iec = 2, "Charging", "C"
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":"v3.7.2","mode":"NORMAL","mode_id":1,"car_connected":true,"evse":{"connected":true,"access":1,"mode":1,"pwm":266,"state":%q,"state_id":%d,"error":"None","error_id":0,"iec61851_state":%q,"charging_enabled":%t},"settings":{"modem":"Experiment","required_evccid":""},"ev_state":{"initial_soc":93,"evccid":"02000000ca01"}}`+"\n", name, state, iec, state == 2)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/ev_state" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, stubPost{r.URL.RawQuery, time.Now()})
	s.mu.Unlock()
	select {
	case s.new <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}

// TestEVSEOverVeth is a plug-in with real sockets between two processes:
// the daemon (ccslink evse) in one network namespace, a car (ccslink pev)
// in another, a veth pair between them as the cable, both with
// --emulate-modem. The SmartEVSE stub in the daemon's namespace must get
// exactly what the car sent.
func TestEVSEOverVeth(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)

	stub, stubURL := serveStub(t, nsE, "127.0.0.1:0")

	// An MQTT broker and a free port for the API, in the daemon's namespace.
	pubs := &brokerPublishes{got: map[string]string{}, more: make(chan struct{})}
	var brokerLn, apiLn net.Listener
	nsE.Do(t, func() {
		var err error
		if brokerLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if apiLn, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	apiAddr := apiLn.Addr().String()
	apiLn.Close()
	broker := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	broker.AddHook(new(auth.AllowHook), nil)
	broker.AddHook(pubs, nil)
	broker.AddListener(listeners.NewNet("test", brokerLn))
	if err := broker.Serve(); err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	stateDir := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--name", "evse0", "--iface", nsE.Iface, "--emulate-modem", "--json",
		"--smartevse", stubURL, "--http", apiAddr, "--mqtt", "tcp://"+brokerLn.Addr().String(), "--state-dir", stateDir)
	dErr, records := startDaemon(t, daemon)

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "40s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	var rep pevReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil {
		t.Fatalf("car output %q: %v", cOut.String(), err)
	}
	if !rep.OK || rep.Protocol != "din" || rep.EVCCID != "02000000ca01" || rep.SoC != 93 || rep.End != "EVSE shutdown" {
		t.Fatalf("car: %+v", rep)
	}
	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", dErr.String())
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	stub.mu.Lock()
	post := stub.got[0]
	n := len(stub.got)
	stub.mu.Unlock()
	if post.query != want || n != 1 {
		t.Fatalf("the SmartEVSE got %q (%d posts), want %q once", post.query, n, want)
	}

	// The car's emulated modem left the cable when its process ended: the
	// daemon's plug-in ends and its record is printed; then SIGTERM stops it.
	var rec record.Session
	select {
	case line, ok := <-records:
		if !ok {
			t.Fatalf("the daemon ended without a record\n%s", dErr.String())
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("daemon record %q: %v", line, err)
		}
	case <-ctx.Done():
		t.Fatalf("no record from the daemon after the car left\n%s", dErr.String())
	}
	if rec.SoC.Value != 93 || rec.EVCCIDHex() != "02000000ca01" || rec.EVMAC != "02:00:00:00:ca:01" || rec.End != record.EndSessionStop || rec.Phases.Delivered.IsZero() {
		t.Fatalf("record: %+v", rec)
	}
	// The SmartEVSE, watched after the delivery, went to C.
	if h := rec.Handover; h == nil || h.Strategy != "deliver-now" || !h.ACStarted || !h.Observed || h.Seen[len(h.Seen)-1] != "C" {
		t.Fatalf("record's handover: %+v", rec.Handover)
	}
	t.Logf("first ChargeParameterDiscoveryReq to the POST at the SmartEVSE: %v", post.at.Sub(rec.Phases.FirstCPD))

	// The API, the metrics, MQTT with Home Assistant discovery, the evidence on disk.
	var state struct {
		SoC      int    `json:"soc"`
		EVCCID   string `json:"evccid"`
		Handover struct {
			Strategy  string `json:"strategy"`
			ACStarted bool   `json:"ac_started"`
			ACAfterMS int64  `json:"ac_after_ms"`
		} `json:"handover"`
	}
	state.Handover.ACAfterMS = -1
	if err := json.Unmarshal(nsGet(t, nsE, apiAddr, "/api/state"), &state); err != nil || state.SoC != 93 || state.EVCCID != "02000000ca01" ||
		state.Handover.Strategy != "deliver-now" || !state.Handover.ACStarted || state.Handover.ACAfterMS != rec.Handover.ACAfter.Milliseconds() {
		t.Errorf("/api/state: %+v %v", state, err)
	}
	if m := nsGet(t, nsE, apiAddr, "/metrics"); !bytes.Contains(m, []byte("ccslink_plugins_total")) || !bytes.Contains(m, []byte("ccslink_answer_seconds")) ||
		!bytes.Contains(m, []byte(`ccslink_handover_total{outcome="ac_started",strategy="deliver-now"} 1`)) {
		t.Errorf("/metrics lacks ccslink_ series:\n%.400s", m)
	}
	if soc, id := pubs.get("ccslink/evse0/soc"), pubs.get("ccslink/evse0/evccid"); soc != "93" || id != "02000000ca01" {
		t.Errorf("MQTT soc %q evccid %q", soc, id)
	}
	if h, _ := json.Marshal(rec.Handover); pubs.await(ctx, "ccslink/evse0/handover", string(h)) != string(h) {
		t.Errorf("MQTT handover %q, want %s", pubs.get("ccslink/evse0/handover"), h)
	}
	if n := pubs.count("homeassistant/sensor/"); n < 3 {
		t.Errorf("%d Home Assistant discovery configs", n)
	}
	if files, _ := pcap.Files(filepath.Join(stateDir, "recordings")); len(files) != 1 {
		t.Errorf("recordings: %v", files)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "sessions.jsonl")); err != nil {
		t.Errorf("session history: %v", err)
	}
	daemon.Process.Signal(syscall.SIGTERM)
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	if !strings.Contains(dErr.String(), "msg=\"ready: waiting for a car\" name=evse0 interface="+nsE.Iface+" ") {
		t.Errorf("the ready line does not name the daemon:\n%s", dErr.String())
	}
	if !strings.Contains(dErr.String(), "level=INFO msg=\"stopping: SIGTERM received\"\n") {
		t.Errorf("the daemon did not say why it stopped:\n%s", dErr.String())
	}
}
