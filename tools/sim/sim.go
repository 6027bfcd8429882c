// Package sim plugs a simulated car into the real charger in one process:
// two virtual QCA7000 modems on one cable (modemsim), the daemon as a Pi
// runs it (package daemon: the charger and its outputs) and a car (evcc)
// playing one of the profiles of real cars. SDP and V2G run over loopback
// sockets; what the SmartEVSE would receive reaches a real HTTP server on
// loopback, unless another SmartEVSE is named.
package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/output/smartevse"
	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// Config is one simulated plug-in.
type Config struct {
	Car    evcc.Profile
	Policy secc.PolicyName
	// SmartEVSE is the URL posted to; "" means the embedded receiver.
	SmartEVSE string
	// AttenuationDB is the cable's attenuation between the modems; zero means modemsim's default.
	AttenuationDB uint8
	// Timeline, if set, receives the plug-in as it happens in plain words.
	Timeline io.Writer
	// Verbose adds SLAC and protocol details (RunID, NID, every request) to the timeline.
	Verbose bool
	// SkipDelays leaves out the car's recorded pauses (such as the Ioniq's
	// 4 s between SLAC and SDP), for tests and --car all.
	SkipDelays bool
	// RecordDir, if set, gets the plug-in's pcap file, as the daemon writes it.
	RecordDir string
	// Daemon is the rest of the daemon's configuration, as a Pi's file
	// gives it: MQTT, the HTTP API, the daemon's name, the capacity
	// fallback, the SmartEVSE's timeouts. Policy and SmartEVSE above take
	// the place of its own. nil: the defaults, without a state directory.
	Daemon *config.Config
	// Version is the daemon's version, told to MQTT.
	Version string
	// Log receives the daemon's own log; nil means none.
	Log *slog.Logger
	// Vehicles, if set, recognises the cars (daemon.Config.Vehicles): one
	// for several runs remembers the cars from one plug-in to the next.
	Vehicles *vehicle.Recogniser
}

// Latency summarises the charger's answer times.
type Latency struct {
	P50 int64 `json:"p50"`
	P99 int64 `json:"p99"`
	Max int64 `json:"max"`
}

// Result is one simulated plug-in's outcome.
type Result struct {
	Car              string          `json:"car"`
	Policy           string          `json:"policy"`
	OK               bool            `json:"ok"`
	Protocol         string          `json:"protocol"`
	EVCCID           string          `json:"evccid"`
	SoC              int             `json:"soc"`
	FullSoC          int             `json:"full_soc"`
	EnergyCapacityWh int             `json:"energy_capacity_wh"`
	EnergyRequestWh  int             `json:"energy_request_wh"`
	SmartEVSEQuery   string          `json:"smartevse_query"`
	SECCResponseUS   Latency         `json:"secc_response_us"`
	DurationMS       int64           `json:"duration_ms"`
	End              string          `json:"end"`
	CarEnd           string          `json:"car_end"`
	Error            string          `json:"error,omitempty"`
	Vehicle          *record.Vehicle `json:"vehicle,omitempty"` // the car the daemon recognised
	Handover         *Handover       `json:"handover,omitempty"`
	Record           *record.Session `json:"-"`
	CarResult        evcc.Result     `json:"-"`
}

// Handover is what the SmartEVSE did after the delivery (record.Handover),
// when it was watched.
type Handover struct {
	Strategy  string `json:"strategy"`
	ACStarted bool   `json:"ac_started"`
	ACAfterMS *int64 `json:"ac_after_ms,omitempty"`
	Outcome   string `json:"outcome"`
	Why       string `json:"why,omitempty"`
}

// Run plugs cfg.Car in and returns once it has been unplugged again.
func Run(ctx context.Context, cfg Config) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := Result{Car: cfg.Car.Name, Policy: cfg.Policy.String(), SoC: -1, FullSoC: -1, EnergyCapacityWh: -1, EnergyRequestWh: -1}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tl := newTimeline(cfg.Timeline, cfg.Verbose)
	defer tl.settle() // the lines held, whatever ended the run

	line := modemsim.NewLine(ctx, modemsim.LineConfig{Attenuation: flat(cfg.AttenuationDB)})
	defer line.Close()
	evseModem, err := line.AddModem(modemsim.ModemConfig{Name: "charger modem", EVSE: true})
	if err != nil {
		return res, err
	}
	carMAC := cfg.Car.SessionMAC()
	carModem, err := line.AddModem(modemsim.ModemConfig{Name: "car modem", HostMAC: homeplug.MAC(carMAC)})
	if err != nil {
		return res, err
	}

	// The charger's V2G sockets, on loopback.
	sdpConn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return res, &LoopbackError{Err: err}
	}
	defer sdpConn.Close()
	ln, err := secc.Listen("[::1]:0")
	if err != nil {
		return res, &LoopbackError{Err: err}
	}
	defer ln.Close()
	announce := netip.AddrPortFrom(netip.IPv6Loopback(), uint16(ln.Addr().(*net.TCPAddr).Port))

	// What the SmartEVSE would receive.
	recv, err := newReceiver()
	if err != nil {
		return res, err
	}
	defer recv.Close()
	url := cfg.SmartEVSE
	if url == "" {
		url = recv.URL()
	}

	// The daemon, as a Pi runs it: the outputs, and the charger over the
	// simulated modem and the loopback sockets.
	dc := config.Default()
	dc.StateDir = "" // the history in memory; recordings only in RecordDir
	if cfg.Daemon != nil {
		dc = *cfg.Daemon
	}
	dc.Policy, dc.SmartEVSE.URL = cfg.Policy.String(), url
	if cfg.SmartEVSE == "" {
		dc.SmartEVSE.Watch = 0 // the bare receiver has no GET /settings to watch
	}
	// heard is the sender's first word on this car: its values delivered,
	// refused for good, or an attempt failed (and is retried).
	heard := make(chan struct{}, 1)
	hear := func() {
		select {
		case heard <- struct{}{}:
		default:
		}
	}
	ended := make(chan *record.Session, 1)
	obs := &observer{tl: tl, ready: make(chan struct{}), ended: ended, closed: make(chan struct{}), delivered: hear, handover: make(chan record.Event, 1)}
	d, err := daemon.New(daemon.Config{Config: dc, MAC: evseModem.HostMAC(), RecordDir: cfg.RecordDir, Version: cfg.Version, Log: log, Vehicles: cfg.Vehicles,
		Views:      []charger.Subscriber{obs},
		OnDelivery: func(dl smartevse.Delivery) { tl.delivery(dl).delivered(dl) },
		OnAttempt: func(dl smartevse.Delivery) {
			if dl.Err != nil {
				hear()
			}
		}})
	if err != nil {
		return res, err
	}
	defer d.Close() // the recording is there when Run returns
	if a := d.HTTPAddr(); a != nil {
		tl.printf("the charger's live page: http://%s/ (its state: /api/state)", a)
	}
	if dc.MQTT.Broker != "" {
		tl.printf("the charger publishes to MQTT at %s as %s", dc.Redacted().MQTT.Broker, dc.Name)
	}
	ch, err := d.Charger(daemon.Wire{Port: evseModem.Host(), MAC: evseModem.HostMAC(), SDP: sdpConn, V2G: ln, Announce: announce})
	if err != nil {
		return res, err
	}
	chDone := make(chan error, 1)
	go func() { chDone <- d.Run(ctx, func(ctx context.Context) error { return d.Serve(ctx, ch) }) }()
	defer func() {
		cancel()
		<-chDone
	}()

	// The car arrives once the charger has keyed its modem and the modem's
	// restart is over, as a car arrives at a waiting charger.
	select {
	case <-obs.ready:
	case err := <-chDone:
		return res, fmt.Errorf("the charger stopped: %w", err)
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if err := wait(ctx, modemsim.DefaultRestartDelay+100*time.Millisecond); err != nil {
		return res, err
	}
	start := time.Now()
	tl.start(start, cfg.Car)
	carRes, carErr := playCar(ctx, cfg, carModem, carMAC, sdpConn.LocalAddr(), tl)
	res.CarResult = carRes
	res.CarEnd = carRes.End.String()
	if carErr != nil {
		res.Error = carErr.Error()
	}
	// Wait until the charger has seen the connection end, then unplug.
	select {
	case <-obs.closed:
	case <-time.After(secc.CloseWait + time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	// Unplug once the SmartEVSE's answer (or its failure) is in: within
	// one attempt's timeout; the bound only ends the wait when the car
	// gave nothing to send.
	select {
	case <-heard:
	case <-time.After(smartevse.DefaultTimeout + 3*time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	tl.settle()
	tl.say("car unplugged")
	carModem.Unplug()
	var rec *record.Session
	select {
	case rec = <-ended:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	if daemon.WatchesHandover(dc) && !rec.Phases.Delivered.IsZero() && rec.Handover == nil {
		// What the SmartEVSE did after the SoC comes after the plug-in:
		// within the watch's bound and one more GET.
		select {
		case e := <-obs.handover:
			rec.Apply(e)
		case <-time.After(dc.SmartEVSE.Watch + dc.SmartEVSE.Timeout + time.Second):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.DurationMS = time.Since(start).Milliseconds()
	res.Record = rec
	query := recv.last()
	if cfg.SmartEVSE != "" {
		// Another receiver: what it acknowledged, as the record has it.
		query = ""
		for _, d := range rec.Deliveries {
			if d.OK {
				query = d.What
			}
		}
	}
	fill(&res, rec, query)
	res.OK = carErr == nil && res.EVCCID != "" && res.SmartEVSEQuery != "" && (res.SoC >= 0 || !cfg.Car.DC || cfg.Policy == secc.PolicyAC)
	tl.summary(res, rec)
	return res, nil
}

// playCar is the car: SLAC over its modem, SDP and TCP over loopback, then its V2G session.
func playCar(ctx context.Context, cfg Config, m *modemsim.Modem, mac [6]byte, sdpAddr net.Addr, tl *timeline) (evcc.Result, error) {
	p := cfg.Car
	for i := 0; i < p.SLACRestarts; i++ {
		// A car that restarts SLAC midway (Stellantis): it gives up after its first sounds.
		actx, acancel := context.WithTimeout(ctx, 300*time.Millisecond)
		slac.MatchPEV(actx, m.Host(), clock.Real{}, slac.PEVConfig{MAC: homeplug.MAC(mac), RunID: homeplug.RunID(p.SLACRunID())})
		acancel()
		tl.say("the car abandoned its SLAC attempt and starts again")
	}
	r, err := slac.MatchPEV(ctx, m.Host(), clock.Real{}, slac.PEVConfig{MAC: homeplug.MAC(mac), RunID: homeplug.RunID(p.SLACRunID())})
	if err != nil {
		return evcc.Result{}, fmt.Errorf("SLAC, car side: %w", err)
	}
	tl.carMatched(r)
	// A car talks IP only once its modem has joined the charger's network.
	if err := modemsim.AwaitLink(ctx, m); err != nil {
		return evcc.Result{}, err
	}
	if !cfg.SkipDelays && p.SDPDelay > 0 {
		if err := wait(ctx, p.SDPDelay); err != nil {
			return evcc.Result{}, err
		}
	}
	conn, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return evcc.Result{}, &LoopbackError{Err: err}
	}
	defer conn.Close()
	resp, err := sdp.Discover(ctx, conn, sdpAddr, sdp.ClientConfig{})
	if err != nil {
		return evcc.Result{}, fmt.Errorf("SDP, car side: %w", err)
	}
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp6", resp.Addr.String())
	if err != nil {
		return evcc.Result{}, fmt.Errorf("connecting to the charger at %v: %w", resp.Addr, err)
	}
	defer tcp.Close() // the car closes the connection, never the charger first
	return evcc.Run(ctx, tcp, evcc.Config{Profile: p, EVCCID: mac})
}

func fill(res *Result, rec *record.Session, query string) {
	res.Protocol = rec.Protocol
	res.EVCCID = rec.EVCCIDHex()
	res.Vehicle = rec.Vehicle
	res.SoC = rec.SoC.OrMinus()
	res.FullSoC = rec.FullSOC.OrMinus()
	res.EnergyCapacityWh = rec.EnergyCapacityWh.OrMinus()
	res.EnergyRequestWh = rec.EnergyRequestWh.OrMinus()
	res.SmartEVSEQuery = query
	res.End = rec.End.String()
	if h := rec.Handover; h != nil {
		res.Handover = &Handover{Strategy: h.Strategy, ACStarted: h.ACStarted, Outcome: h.Outcome(), Why: h.Why}
		if h.ACStarted {
			ms := h.ACAfter.Milliseconds()
			res.Handover.ACAfterMS = &ms
		}
	}
	var us []int64
	for _, a := range rec.Answers {
		us = append(us, a.Took.Microseconds())
	}
	res.SECCResponseUS = percentiles(us)
}

func percentiles(us []int64) Latency {
	if len(us) == 0 {
		return Latency{}
	}
	slices.Sort(us)
	at := func(q float64) int64 { return us[min(len(us)-1, int(q*float64(len(us))))] }
	return Latency{P50: at(0.50), P99: at(0.99), Max: us[len(us)-1]}
}

func flat(db uint8) []byte {
	if db == 0 {
		db = modemsim.DefaultAttenuationDB
	}
	p := make([]byte, homeplug.NumAttenGroups)
	for i := range p {
		p[i] = db
	}
	return p
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LoopbackError reports that the loopback sockets the simulation needs could not be opened.
type LoopbackError struct{ Err error }

func (e *LoopbackError) Error() string {
	return fmt.Sprintf("the simulation needs IPv6 on the loopback interface (::1): %v", e.Err)
}

func (e *LoopbackError) Unwrap() error { return e.Err }

// observer follows the charger for the simulation.
type observer struct {
	tl        *timeline
	ready     chan struct{}
	readyOnce sync.Once
	closed    chan struct{}
	closeOnce sync.Once
	ended     chan<- *record.Session
	endOnce   sync.Once
	delivered func()      // the SmartEVSE's result is in the car's record
	over      atomic.Bool // the car's plug-in ended: the next one's events are not the car's
	handover  chan record.Event
}

// Late hears of the SmartEVSE's handover after the car's plug-in ended.
func (o *observer) Late(e record.Event, s *record.Session) {
	if e.Kind == record.KindHandover {
		select {
		case o.handover <- e:
		default:
		}
	}
}

func (o *observer) Event(e record.Event, s *record.Session) {
	if o.over.Load() {
		return
	}
	// Told before Run hears of it: Run's next line follows this one.
	o.tl.event(e, s)
	switch e.Kind {
	case record.KindSLACStarted:
		o.readyOnce.Do(func() { close(o.ready) })
	case record.KindDelivered:
		o.delivered()
	case record.KindEnded:
		if e.End != record.EndLinkLost && e.End != record.EndStopped {
			o.closeOnce.Do(func() { close(o.closed) })
		}
	}
}

func (o *observer) PlugInEnded(s *record.Session) {
	if s.Phases.Matched.IsZero() {
		return
	}
	o.endOnce.Do(func() {
		o.over.Store(true)
		o.ended <- s.Clone()
	})
}

// receiver is an HTTP server on loopback that takes POST /ev_state as a SmartEVSE does.
type receiver struct {
	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
	queries []string
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, &LoopbackError{Err: err}
	}
	r := &receiver{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ev_state", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.queries = append(r.queries, req.URL.RawQuery)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		q := req.URL.Query()
		fmt.Fprintf(w, `{"current_soc":%q,"full_soc":%q,"energy_capacity":%q,"energy_request":%q,"evccid":%q}`,
			q.Get("current_soc"), q.Get("full_soc"), q.Get("energy_capacity"), q.Get("energy_request"), q.Get("evccid"))
	})
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) URL() string { return "http://" + r.ln.Addr().String() }

func (r *receiver) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queries) == 0 {
		return ""
	}
	return r.queries[len(r.queries)-1]
}

func (r *receiver) Close() error {
	err := r.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
