package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// TestFromConfig builds the daemon from a configuration file's text and
// plugs a car in over virtual modems and loopback sockets: the capacity
// the file gives for a car that sends none reaches the SmartEVSE with the
// first SoC, the HTTP API and the record; the SmartEVSE, watched after the
// delivery (GET /settings), goes to C, and the handover reaches the record,
// the API and the metrics; the state directory gets the plug-in's
// recording, its line in the session history and the car remembered. The
// car is one of the owner's cars: its capacity counts over
// capacity_fallback's for its EVCCID, and the SmartEVSE gets its stable ID
// as evccid.
func TestFromConfig(t *testing.T) {
	state := t.TempDir()
	posts := make(chan string, 8)
	var mu sync.Mutex
	stateID := 12 // MODEM_WAIT until the SoC comes, then C: the car charges on AC
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet && r.URL.Path == "/settings" {
			fmt.Fprintf(w, `{"version":"v3.7.2","mode":"NORMAL","mode_id":1,"car_connected":true,"evse":{"connected":true,"pwm":266,"state":"Charging","state_id":%d,"error":"None","error_id":0,"iec61851_state":"C","charging_enabled":true},"settings":{"modem":"Experiment"}}`+"\n", stateID)
			return
		}
		posts <- r.URL.RawQuery
		stateID = 2
		w.Write([]byte(`{}`))
	}))
	defer stub.Close()
	c, err := config.Parse("ccslink.yaml", []byte(`interface: sim0
name: bench
smartevse:
  url: `+stub.URL+`
  vehicle_id: true
http:
  listen: 127.0.0.1:0
state_dir: `+state+`
capacity_fallback:
  - {evccid: "dc44271dcd45", capacity_wh: 60000}
cars:
  - {name: Model 3, id: model3, mac: "dc:44:27:xx:xx:xx", capacity_wh: 75000}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	line := modemsim.NewLine(ctx, modemsim.LineConfig{})
	defer line.Close()
	evseModem, err := line.AddModem(modemsim.ModemConfig{Name: "charger modem", EVSE: true})
	if err != nil {
		t.Fatal(err)
	}
	car, err := evcc.Lookup("tesla-model3") // sends no capacity
	if err != nil {
		t.Fatal(err)
	}
	carMAC := car.SessionMAC()
	carModem, err := line.AddModem(modemsim.ModemConfig{Name: "car modem", HostMAC: homeplug.MAC(carMAC)})
	if err != nil {
		t.Fatal(err)
	}

	v := &view{slac: make(chan struct{}), sessionEnded: make(chan struct{}), delivered: make(chan struct{}), ended: make(chan *record.Session, 1),
		handover: make(chan *record.Handover, 1)}
	d, err := daemon.New(daemon.Config{Config: c, MAC: evseModem.HostMAC(), Views: []charger.Subscriber{v}})
	if err != nil {
		t.Fatal(err)
	}
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sdpConn.Close()
	ln, err := secc.Listen("[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	ch, err := d.Charger(daemon.Wire{Port: evseModem.Host(), MAC: evseModem.HostMAC(), SDP: sdpConn, V2G: ln, Announce: announce})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx, func(ctx context.Context) error { return d.Serve(ctx, ch) }) }()

	select {
	case <-v.slac:
	case <-ctx.Done():
		t.Fatal("the charger did not start SLAC")
	}
	// The car arrives once the modem's restart on its new key is over, as
	// a car arrives at a waiting charger (sim waits as long).
	arrive := time.NewTimer(modemsim.DefaultRestartDelay + 100*time.Millisecond)
	<-arrive.C
	if _, err := slac.MatchPEV(ctx, carModem.Host(), clock.Real{}, slac.PEVConfig{MAC: homeplug.MAC(carMAC), RunID: homeplug.RunID(car.SLACRunID())}); err != nil {
		t.Fatalf("SLAC, car side: %v", err)
	}
	if err := modemsim.AwaitLink(ctx, carModem); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := sdp.Discover(ctx, conn, sdpConn.LocalAddr(), sdp.ClientConfig{})
	if err != nil {
		t.Fatalf("SDP, car side: %v", err)
	}
	tcp, err := (&net.Dialer{}).DialContext(ctx, "tcp6", resp.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evcc.Run(ctx, tcp, evcc.Config{Profile: car, EVCCID: carMAC}); err != nil {
		t.Fatalf("the car's session: %v", err)
	}
	tcp.Close()
	for _, c := range []chan struct{}{v.sessionEnded, v.delivered} {
		select {
		case <-c:
		case <-ctx.Done():
			t.Fatal("the session did not end, or the SmartEVSE's answer did not reach the record")
		}
	}
	if q := <-posts; q != "current_soc=57&full_soc=-1&energy_capacity=75000&energy_request=-1&evccid=model3" {
		t.Errorf("the SmartEVSE got %q", q)
	}

	// The SmartEVSE, watched after the delivery, charges the car on AC.
	var h *record.Handover
	select {
	case h = <-v.handover:
	case <-ctx.Done():
		t.Fatal("no handover after the delivery")
	}
	if h.Strategy != "deliver-now" || !h.ACStarted || !h.Observed || h.Why != "" || len(h.Seen) != 1 || h.Seen[0] != "C" || h.Watched != time.Minute || h.ACAfter < 0 {
		t.Errorf("handover %+v", h)
	}

	// The API while the car is still plugged in.
	body := get(t, "http://"+d.HTTPAddr().String()+"/api/state")
	var st struct {
		SoC           *int            `json:"soc"`
		EVCCID        string          `json:"evccid"`
		EVMAC         string          `json:"ev_mac"`
		Vehicle       *record.Vehicle `json:"vehicle"`
		HandoverWords string          `json:"handover_words"`
		Handover      struct {
			Strategy  string `json:"strategy"`
			ACStarted bool   `json:"ac_started"`
			Outcome   string `json:"outcome"`
		} `json:"handover"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.SoC == nil || *st.SoC != 57 || st.EVCCID != "dc44271dcd45" || st.EVMAC != "dc:44:27:1d:cd:45" ||
		st.Vehicle == nil || *st.Vehicle != (record.Vehicle{Name: "Model 3", ID: "model3", Confidence: 1, By: record.ByConfig}) ||
		st.Handover.Strategy != "deliver-now" || !st.Handover.ACStarted || st.Handover.Outcome != "ac_started" || !strings.HasPrefix(st.HandoverWords, "charging on AC ") {
		t.Errorf("/api/state: %s %v", body, err)
	}
	if m := string(get(t, "http://"+d.HTTPAddr().String()+"/metrics")); !strings.Contains(m, "\nccslink_handover_total{outcome=\"ac_started\",strategy=\"deliver-now\"} 1\n") {
		t.Errorf("/metrics lacks the handover:\n%s", m)
	}

	carModem.Unplug()
	var rec *record.Session
	select {
	case rec = <-v.ended:
	case <-ctx.Done():
		t.Fatal("the plug-in did not end after the car was unplugged")
	}
	if rec.EnergyCapacityWh != (record.Num{Value: 75000, Known: true, From: charger.FromConfig, At: rec.EnergyCapacityWh.At}) || rec.SoC.Value != 57 {
		t.Errorf("record: capacity %+v, SoC %+v", rec.EnergyCapacityWh, rec.SoC)
	}
	if rec.Vehicle == nil || *rec.Vehicle != (record.Vehicle{Name: "Model 3", ID: "model3", Confidence: 1, By: record.ByConfig}) {
		t.Errorf("record: vehicle %+v", rec.Vehicle)
	}
	if rec.Handover == nil || !rec.Handover.ACStarted {
		t.Errorf("record: handover %+v", rec.Handover)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	addr := d.HTTPAddr().String()
	d.Close()

	if _, err := http.Get("http://" + addr + "/api/state"); err == nil {
		t.Errorf("the API still answers after Close")
	}
	if files, err := pcap.Files(filepath.Join(state, "recordings")); err != nil || len(files) != 1 {
		t.Errorf("recordings: %v %v", files, err)
	}
	b, err := os.ReadFile(filepath.Join(state, history.File))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var past record.Session
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &past) != nil || past.EVCCIDHex() != "dc44271dcd45" || past.SoC.Value != 57 ||
		past.EnergyCapacityWh.Value != 75000 || past.EnergyCapacityWh.From != charger.FromConfig {
		t.Errorf("%s: %s", history.File, b)
	}
	m, err := vehicle.OpenMemory(filepath.Join(state, vehicle.MemoryFile))
	if cars := m.Cars(); err != nil || len(cars) != 1 || cars[0].ID != "model3" || cars[0].PlugIns != 1 || cars[0].MACs[0] != "dc:44:27:1d:cd:45" {
		t.Errorf("the cars remembered: %+v, %v", cars, err)
	}
}

// TestNewPortInUse: an HTTP port another program holds stops New, with
// the error that says what to do.
func TestNewPortInUse(t *testing.T) {
	held, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	c := config.Default()
	c.StateDir, c.HTTP.Listen = "", held.Addr().String()
	d, err := daemon.New(daemon.Config{Config: c})
	var inUse *daemon.PortInUseError
	if d != nil || !errors.As(err, &inUse) || inUse.Addr != c.HTTP.Listen ||
		err.Error() != "--http "+c.HTTP.Listen+": the port is in use by another program: pick another port (http.listen in the configuration), or stop that program (`ss -ltnp` names it)" {
		t.Fatalf("New: %v, %v", d, err)
	}
}

// TestNewBadPolicy: a policy the charger does not know stops New before
// any output opens.
func TestNewBadPolicy(t *testing.T) {
	c := config.Default()
	c.StateDir, c.Policy = "", "fast"
	d, err := daemon.New(daemon.Config{Config: c})
	var bad *secc.PolicyError
	if d != nil || !errors.As(err, &bad) || bad.Name != "fast" {
		t.Fatalf("New: %v, %v", d, err)
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s %v", url, resp.StatusCode, b, err)
	}
	return b
}

// view follows the plug-in for the test, after the outputs.
type view struct {
	slac, sessionEnded, delivered chan struct{}
	once                          [3]sync.Once
	ended                         chan *record.Session
	handover                      chan *record.Handover
}

// Late hears of a handover that came after its plug-in ended.
func (v *view) Late(e record.Event, s *record.Session) { v.Event(e, s) }

func (v *view) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		v.once[0].Do(func() { close(v.slac) })
	case record.KindEnded:
		v.once[1].Do(func() { close(v.sessionEnded) })
	case record.KindDelivered:
		v.once[2].Do(func() { close(v.delivered) })
	case record.KindHandover:
		select {
		case v.handover <- e.Handover:
		default:
		}
	}
}

func (v *view) PlugInEnded(s *record.Session) {
	if !s.Phases.Matched.IsZero() {
		select {
		case v.ended <- s.Clone():
		default:
		}
	}
}

// noCommView hands on the plug-in's ends for TestNoCommFromConfig.
type noCommView struct {
	slac   chan struct{}
	once   sync.Once
	events chan record.Event
	ended  chan *record.Session
}

func (v *noCommView) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		v.once.Do(func() { close(v.slac) })
	case record.KindEnded:
		v.events <- e
	}
}

func (v *noCommView) PlugInEnded(s *record.Session) {
	if s.End == record.EndNoComm {
		v.ended <- s.Clone()
	}
}

// TestNoCommFromConfig: with slac.init_timeout 10s, a car the charger
// reports plugged in (Daemon.Plugged) that sends no CM_SLAC_PARM.REQ is
// told at once in the API's state; when the charger reports state A its
// record goes to the history.
func TestNoCommFromConfig(t *testing.T) {
	state := t.TempDir()
	c, err := config.Parse("ccslink.yaml", []byte("interface: sim0\nname: bench\nslac:\n  init_timeout: 10s\nhttp:\n  listen: 127.0.0.1:0\nstate_dir: "+state+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	line := modemsim.NewLine(ctx, modemsim.LineConfig{})
	defer line.Close()
	evseModem, err := line.AddModem(modemsim.ModemConfig{Name: "charger modem", EVSE: true})
	if err != nil {
		t.Fatal(err)
	}
	v := &noCommView{slac: make(chan struct{}), events: make(chan record.Event, 8), ended: make(chan *record.Session, 1)}
	d, err := daemon.New(daemon.Config{Config: c, MAC: evseModem.HostMAC(), Views: []charger.Subscriber{v}})
	if err != nil {
		t.Fatal(err)
	}
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sdpConn.Close()
	ln, err := secc.Listen("[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))
	ch, err := d.Charger(daemon.Wire{Port: evseModem.Host(), MAC: evseModem.HostMAC(), SDP: sdpConn, V2G: ln, Announce: announce})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx, func(ctx context.Context) error { return d.Serve(ctx, ch) }) }()
	select {
	case <-v.slac:
	case <-ctx.Done():
		t.Fatal("the charger did not start SLAC")
	}

	// The SmartEVSE's 5 % PWM began 10 s ago: the bound has passed.
	d.Plugged(true, time.Now().Add(-10*time.Second))
	const words = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	var e record.Event
	select {
	case e = <-v.events:
	case <-ctx.Done():
		t.Fatal("no event for the car that does not talk")
	}
	if e.End != record.EndNoComm || e.Detail != words {
		t.Fatalf("event: %v %q", e.End, e.Detail)
	}
	var st struct {
		State, Words, End, Summary string
	}
	if b := get(t, "http://"+d.HTTPAddr().String()+"/api/state"); json.Unmarshal(b, &st) != nil ||
		st.State != "no-communication" || st.Words != words || st.End != "no_digital_communication" || st.Summary != words {
		t.Errorf("/api/state: %s", b)
	}

	d.Plugged(false, time.Now())
	var rec *record.Session
	select {
	case rec = <-v.ended:
	case <-ctx.Done():
		t.Fatal("the plug-in did not end at state A")
	}
	if rec.Gone != "the control pilot went back to state A" || rec.Detail != words {
		t.Errorf("record: gone %q, detail %q", rec.Gone, rec.Detail)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	d.Close()
	b, err := os.ReadFile(filepath.Join(state, history.File))
	if err != nil {
		t.Fatal(err)
	}
	var past record.Session
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &past) != nil || past.End != record.EndNoComm {
		t.Errorf("%s: %s", history.File, b)
	}
}

// TestWatchesHandover: the SmartEVSE is watched after a delivery unless
// smartevse.watch is 0s or the URL posts to another receiver's path.
func TestWatchesHandover(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want bool
	}{
		{"smartevse: {url: http://10.0.0.1}", true},
		{"smartevse: {url: http://10.0.0.1/ev_state, watch: 2m}", true},
		{"smartevse: {url: http://10.0.0.1, watch: 0s}", false},
		{"smartevse: {url: http://nodered:1880/soc}", false},
		{"interface: eth1", false},
	} {
		cfg, err := config.Parse("f.yaml", []byte(c.yaml+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := daemon.WatchesHandover(cfg); got != c.want {
			t.Errorf("%s: %v, want %v", c.yaml, got, c.want)
		}
	}
}

// TestNotWatchedSaysSo: a receiver of its own path is not watched, said in
// one line that keeps its password out.
func TestNotWatchedSaysSo(t *testing.T) {
	c := config.Default()
	c.StateDir, c.SmartEVSE.URL = "", "http://user:secret@nodered:1880/soc"
	var logs bytes.Buffer
	d, err := daemon.New(daemon.Config{Config: c, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	want := `level=INFO msg="not watching for AC charging after the SoC: http://` + config.RedactedValue + `@nodered:1880/soc posts to another receiver than a SmartEVSE's /ev_state, which has no GET /settings"` + "\n"
	if logs.String() != want {
		t.Fatalf("log\n got %s\nwant %s", logs.String(), want)
	}
}
