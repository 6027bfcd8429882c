package mqtt

import (
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/hooks/auth"

	v2gmsg "github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2023, 5, 24, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// ioniq is the Ioniq's plug-in as the charger reports it (the values of
// the pyPlc capture 2023-05-24_pyPlc_with_Ioniq93prcSoc): SLAC, SDP, DIN,
// its EVCCID, one ChargeParameterDiscoveryReq and SessionStop.
func ioniq() []record.Event {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return []record.Event{
		{Kind: record.KindSLACStarted, At: at(0)},
		{Kind: record.KindMatched, At: at(1738), EVMAC: "04:65:65:00:64:c3"},
		{Kind: record.KindLinkUp, At: at(1738)},
		{Kind: record.KindSDP, At: at(5347)},
		{Kind: record.KindConnected, At: at(5347)},
		{Kind: record.KindHandshake, At: at(5347), Protocol: "din", Namespace: "urn:din:70121:2012:MsgDef"},
		{Kind: record.KindSessionSetup, At: at(5347), EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}},
		{Kind: record.KindRequest, At: at(5347), Message: v2gmsg.SessionSetupReq, Code: "OK_NewSessionEstablished", Took: 80 * time.Microsecond},
		{Kind: record.KindValues, At: at(5348), Message: v2gmsg.ChargeParameterDiscoveryReq, Values: record.Values{
			SoC: ptr(93), FullSOC: ptr(94), EnergyCapacityWh: ptr(28000.0), EnergyRequestWh: ptr(1820.0)}},
		{Kind: record.KindEnded, At: at(5350), End: record.EndSessionStop},
	}
}

// quiet is a logger for tests that do not look at the log.
var quiet = slog.New(slog.DiscardHandler)

func newOutput(t *testing.T, cfg Config) *Output {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "eth1"
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = quiet
	}
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// TestPlugIn drives the Ioniq's plug-in event by event: the state follows
// each step, and the values and the record are exactly what the car sent,
// for a live subscriber and for one that comes late.
func TestPlugIn(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	sub.wait(t, "ccslink/eth1/status", "online")
	sub.wait(t, "ccslink/eth1/state", "waiting")
	if got := sub.last("ccslink/eth1/soc"); got != "<none>" {
		t.Errorf("soc before any car = %q; want nothing published", got)
	}

	states := []string{"slac", "session", "session", "session", "session", "session", "session", "session", "reading", "done"}
	rec := &record.Session{}
	for i, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
		sub.wait(t, "ccslink/eth1/state", states[i])
		if e.Kind == record.KindSessionSetup {
			sub.wait(t, "ccslink/eth1/evccid", "0465650064c3")
			sub.wait(t, "ccslink/eth1/soc", "") // cleared: the car has not sent it yet
		}
	}
	want := map[string]string{
		"ccslink/eth1/soc":             "93",
		"ccslink/eth1/full_soc":        "94",
		"ccslink/eth1/energy_capacity": "28000",
		"ccslink/eth1/energy_request":  "1820",
		"ccslink/eth1/evccid":          "0465650064c3",
		"ccslink/eth1/protocol":        "din",
		"ccslink/eth1/soc_timestamp":   "2023-05-24T10:00:05.348Z",
		"ccslink/eth1/state":           "done",
		"ccslink/eth1/status":          "online",
	}
	for topic, p := range want {
		sub.wait(t, topic, p)
	}

	// The car leaves: the final record, and waiting.
	end := record.Event{Kind: record.KindEnded, At: t0.Add(9 * time.Second), End: record.EndLinkLost}
	rec.Apply(end)
	o.Event(end, rec)
	o.PlugInEnded(rec)
	final, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want["ccslink/eth1/state"] = "waiting"
	want["ccslink/eth1/session"] = string(final)
	sub.wait(t, "ccslink/eth1/state", "waiting")
	sub.wait(t, "ccslink/eth1/session", string(final))
	var back record.Session
	if err := json.Unmarshal([]byte(sub.last("ccslink/eth1/session")), &back); err != nil {
		t.Fatal(err)
	}
	if back.SoC.Value != 93 || back.EVCCIDHex() != "0465650064c3" || back.End != record.EndSessionStop || len(back.Answers) != 1 {
		t.Errorf("session read back: SoC %d, EVCCID %q, end %v, %d answers", back.SoC.Value, back.EVCCIDHex(), back.End, len(back.Answers))
	}

	// The next plug-in with no car keeps the last car's values.
	o.Event(record.Event{Kind: record.KindSLACStarted, At: t0.Add(10 * time.Second)}, &record.Session{})
	sub.wait(t, "ccslink/eth1/state", "slac")

	late := subscribe(t, b, "ccslink/eth1/#")
	want["ccslink/eth1/state"] = "slac"
	for topic, p := range want {
		late.wait(t, topic, p)
		if m, _ := late.lastMessage(topic); !m.retained {
			t.Errorf("%s reached the late subscriber unretained", topic)
		}
	}
}

// TestNextCar resets the values: the next car's unknown values are cleared
// (an empty retained payload deletes the topic's value), not the last car's.
func TestNextCar(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	rec := &record.Session{}
	for _, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.PlugInEnded(rec)
	sub.wait(t, "ccslink/eth1/soc", "93")

	// A car that sends only its EVCCID (ISO-2 AC, no SoC).
	rec = &record.Session{}
	for _, e := range []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindMatched, At: t0, EVMAC: "02:00:00:00:00:01"},
		{Kind: record.KindHandshake, At: t0, Protocol: "iso2"},
		{Kind: record.KindSessionSetup, At: t0, EVCCID: []byte{2, 0, 0, 0, 0, 1}},
	} {
		rec.Apply(e)
		o.Event(e, rec)
	}
	for topic, p := range map[string]string{
		"soc": "", "full_soc": "", "energy_capacity": "", "energy_request": "",
		"evccid": "020000000001", "protocol": "iso2", "soc_timestamp": "", "state": "session",
	} {
		sub.wait(t, "ccslink/eth1/"+topic, p)
	}
}

// TestDiscovery: every discovery config is exactly what Home Assistant
// reads, and Home Assistant's birth message brings the configs and the
// current values again.
func TestDiscovery(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "homeassistant/#", "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url(), DeviceName: "Garage", Version: "v1.2.3"})

	const (
		avail = `"availability_topic":"ccslink/eth1/status","payload_available":"online","payload_not_available":"offline",`
		tail  = `"value_template":"{{ None if value == '' else value }}",` +
			`"device":{"identifiers":["ccslink_eth1"],"name":"Garage","manufacturer":"ccslink","model":"ISO 15118 car reader","sw_version":"v1.2.3"},` +
			`"origin":{"name":"ccslink","sw_version":"v1.2.3"}}`
	)
	want := map[string]string{
		"soc": `{"name":"State of charge","unique_id":"ccslink_eth1_soc","state_topic":"ccslink/eth1/soc",` + avail +
			`"device_class":"battery","unit_of_measurement":"%","state_class":"measurement",` + tail,
		"full_soc": `{"name":"Full state of charge","unique_id":"ccslink_eth1_full_soc","state_topic":"ccslink/eth1/full_soc",` + avail +
			`"device_class":"battery","unit_of_measurement":"%","state_class":"measurement",` + tail,
		"energy_capacity": `{"name":"Battery capacity","unique_id":"ccslink_eth1_energy_capacity","state_topic":"ccslink/eth1/energy_capacity",` + avail +
			`"device_class":"energy_storage","unit_of_measurement":"Wh",` + tail,
		"energy_request": `{"name":"Energy request","unique_id":"ccslink_eth1_energy_request","state_topic":"ccslink/eth1/energy_request",` + avail +
			`"device_class":"energy","unit_of_measurement":"Wh",` + tail,
		"evccid": `{"name":"EVCCID","unique_id":"ccslink_eth1_evccid","state_topic":"ccslink/eth1/evccid",` + avail +
			`"icon":"mdi:car-info",` + tail,
		"protocol": `{"name":"Protocol","unique_id":"ccslink_eth1_protocol","state_topic":"ccslink/eth1/protocol",` + avail +
			`"icon":"mdi:swap-horizontal",` + tail,
		"state": `{"name":"State","unique_id":"ccslink_eth1_state","state_topic":"ccslink/eth1/state",` + avail +
			`"device_class":"enum","options":["waiting","slac","session","reading","done","no-car","error","no-communication"],"icon":"mdi:ev-plug-ccs2",` + tail,
		"soc_timestamp": `{"name":"SoC read at","unique_id":"ccslink_eth1_soc_timestamp","state_topic":"ccslink/eth1/soc_timestamp",` + avail +
			`"device_class":"timestamp",` + tail,
		"handover": `{"name":"AC charging after the SoC","unique_id":"ccslink_eth1_handover","state_topic":"ccslink/eth1/handover",` + avail +
			`"device_class":"enum","options":["ac_started","no_ac","not_observed"],"icon":"mdi:ev-station",` +
			`"value_template":"{{ None if value == '' else value_json.outcome }}","json_attributes_topic":"ccslink/eth1/handover",` +
			tail[len(`"value_template":"{{ None if value == '' else value }}",`):],
		"soc_estimated": `{"name":"State of charge (estimated)","unique_id":"ccslink_eth1_soc_estimated","state_topic":"ccslink/eth1/soc_estimated",` + avail +
			`"device_class":"battery","unit_of_measurement":"%","state_class":"measurement",` +
			`"value_template":"{{ None if value == '' else value }}","json_attributes_topic":"ccslink/eth1/soc_estimated_basis",` +
			tail[len(`"value_template":"{{ None if value == '' else value }}",`):],
	}
	objects := []string{"soc", "full_soc", "energy_capacity", "energy_request", "evccid", "protocol", "state", "soc_timestamp", "handover", "soc_estimated"}
	for _, obj := range objects {
		topic := "homeassistant/sensor/ccslink_eth1/" + obj + "/config"
		m := sub.waitCount(t, topic, 1)[0]
		if m.payload != want[obj] {
			t.Errorf("%s:\n got %s\nwant %s", topic, m.payload, want[obj])
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(m.payload), &c); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}

	// A car's values, then Home Assistant restarts and announces itself:
	// every config and every value again. The output subscribed before it
	// published the configs, so it hears this.
	rec := &record.Session{}
	for _, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.PlugInEnded(rec)
	final, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	sub.wait(t, "ccslink/eth1/session", string(final))
	from := sub.len()
	if tok := sub.client.Publish("homeassistant/status", 1, false, "online"); !tok.WaitTimeout(bound) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for _, obj := range objects {
		sub.waitFrom(t, from, "homeassistant/sensor/ccslink_eth1/"+obj+"/config", want[obj])
	}
	for topic, p := range map[string]string{
		"status": "online", "state": "waiting", "soc": "93", "full_soc": "94", "energy_capacity": "28000", "energy_request": "1820",
		"evccid": "0465650064c3", "protocol": "din", "soc_timestamp": "2023-05-24T10:00:05.348Z", "session": string(final),
	} {
		sub.waitFrom(t, from, "ccslink/eth1/"+topic, p)
	}
	// Its going offline brings nothing.
	n := len(sub.waitCount(t, "homeassistant/sensor/ccslink_eth1/soc/config", 2))
	sub.client.Publish("homeassistant/status", 1, false, "offline").WaitTimeout(bound)
	sub.client.Publish("homeassistant/status", 1, false, "online").WaitTimeout(bound)
	if got := len(sub.waitCount(t, "homeassistant/sensor/ccslink_eth1/soc/config", n+1)); got != n+1 {
		t.Errorf("%d soc configs after offline and online, want %d", got, n+1)
	}
}

// TestNoDiscovery publishes no configs and does not listen to Home Assistant.
func TestNoDiscovery(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "#")
	newOutput(t, Config{Broker: b.url(), NoDiscovery: true, Prefix: "car/garage"})
	sub.wait(t, "car/garage/status", "online")
	sub.wait(t, "car/garage/state", "waiting")
	for _, m := range sub.waitCount(t, "car/garage/state", 1) {
		_ = m
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, m := range sub.msgs {
		if strings.HasPrefix(m.topic, "homeassistant/") {
			t.Errorf("published %s with discovery off", m.topic)
		}
	}
}

// TestLastWill: the client's connection breaks; the broker publishes its
// last will (offline), and the client comes back online by itself.
func TestLastWill(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	p := startProxy(t, b.addr)
	sub := subscribe(t, b, "ccslink/eth1/status")
	newOutput(t, Config{Broker: p.url()})
	i := sub.waitFrom(t, 0, "ccslink/eth1/status", "online")
	// Cut and kept cut until the will is out: a client back at once with
	// the same ID would take the session over before the broker saw the
	// old connection break.
	p.cut()
	i = sub.waitFrom(t, i, "ccslink/eth1/status", "offline")
	p.mend()
	sub.waitFrom(t, i, "ccslink/eth1/status", "online")
}

// TestClose publishes offline, retained, before disconnecting.
func TestClose(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/status")
	o := newOutput(t, Config{Broker: b.url()})
	i := sub.waitFrom(t, 0, "ccslink/eth1/status", "online")
	o.Close()
	sub.waitFrom(t, i, "ccslink/eth1/status", "offline")
	late := subscribe(t, b, "ccslink/eth1/status")
	late.wait(t, "ccslink/eth1/status", "offline")
	if err := o.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	o.Event(record.Event{Kind: record.KindSLACStarted}, &record.Session{}) // after Close: nothing, no panic
}

// drive runs plug-in after plug-in on another goroutine and reports when it is done.
func drive(o *Output, plugIns int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range plugIns {
			rec := &record.Session{}
			for _, e := range ioniq() {
				rec.Apply(e)
				o.Event(e, rec)
			}
			o.PlugInEnded(rec)
		}
	}()
	return done
}

// TestBrokerDown: with nothing listening, Event and PlugInEnded return at
// once, the failure is logged in plain words with the URL, and Close
// returns within its bound.
func TestBrokerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + ln.Addr().String()
	ln.Close()
	l := newLogs()
	o := newOutput(t, Config{Broker: url, Log: slog.New(l)})
	select {
	case <-drive(o, 1000):
	case <-time.After(5 * time.Second): // 11000 calls take milliseconds
		t.Fatal("Event blocked with the broker down")
	}
	line := l.waitLog(t, "cannot connect to the broker", url, "err=connection refused: nothing listens there; check the broker's address and port")
	if !strings.HasPrefix(line, "WARN") {
		t.Errorf("log line %q is not a warning", line)
	}
	closed := make(chan struct{})
	go func() { o.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(CloseTimeout + 3*time.Second):
		t.Fatal("Close did not return with the broker down")
	}
}

// TestBrokerSilent: a broker that takes the connection but never answers
// does not slow the car either.
func TestBrokerSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	o := newOutput(t, Config{Broker: "tcp://" + ln.Addr().String()})
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case <-time.After(bound):
		t.Fatal("the output never dialled the broker")
	}
	select {
	case <-drive(o, 1000):
	case <-time.After(5 * time.Second):
		t.Fatal("Event blocked with a silent broker")
	}
	closed := make(chan struct{})
	go func() { o.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(CloseTimeout + 3*time.Second):
		t.Fatal("Close did not return with a silent broker")
	}
}

// TestReconnect: the broker stops (losing every retained message) and
// starts again on the same port; the output reconnects and publishes
// everything afresh, the car's values included.
func TestReconnect(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	l := newLogs()
	o := newOutput(t, Config{Broker: b.url(), Log: slog.New(l)})
	<-drive(o, 1)
	sub := subscribe(t, b, "ccslink/eth1/#")
	sub.wait(t, "ccslink/eth1/soc", "93")
	sub.client.Disconnect(0)

	b.close()
	l.waitLog(t, "WARN mqtt: lost the connection to the broker; reconnecting every 1s (the car's values wait, the newest kept) broker="+b.url())
	select {
	case <-drive(o, 100):
	case <-time.After(5 * time.Second):
		t.Fatal("Event blocked while the broker was away")
	}

	b2 := startBroker(t, b.addr)
	sub2 := subscribe(t, b2, "ccslink/eth1/#")
	for topic, p := range map[string]string{"status": "online", "soc": "93", "evccid": "0465650064c3", "state": "waiting"} {
		sub2.wait(t, "ccslink/eth1/"+topic, p)
	}
	l.waitLog(t, "INFO mqtt: reconnected to the broker after ", "s away; publishing everything afresh broker="+b.url()+" away=")
}

// TestNewestWins: a thousand plug-ins while the broker is away leave one
// value per topic; once the broker is there, each is published once, in
// order: the discovery configs, status, state, the values, the record.
func TestNewestWins(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	o := newOutput(t, Config{Broker: "tcp://" + addr})
	<-drive(o, 1000)

	b := startBroker(t, addr)
	sub := subscribe(t, b, "ccslink/eth1/session")
	sub.waitCount(t, "ccslink/eth1/session", 1)
	var want []string
	for _, obj := range []string{"soc", "full_soc", "energy_capacity", "energy_request", "evccid", "protocol", "state", "soc_timestamp", "vehicle_id", "handover", "soc_estimated"} {
		want = append(want, "homeassistant/sensor/ccslink_eth1/"+obj+"/config")
	}
	for _, name := range []string{"status", "state", "soc", "full_soc", "energy_capacity", "energy_request", "evccid", "protocol", "handover", "soc_timestamp", "vehicle_id", "vehicle", "soc_estimated", "soc_estimated_basis", "session"} {
		want = append(want, "ccslink/eth1/"+name)
	}
	if got := b.pubs.of("ccslink-eth1"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("published\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkEvent is the cost of one Event on the charger's goroutine, with the broker down.
func BenchmarkEvent(b *testing.B) {
	o, err := New(Config{Broker: "tcp://127.0.0.1:1", Name: "eth1", Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	rec := &record.Session{}
	events := ioniq()
	for _, e := range events {
		rec.Apply(e)
	}
	v := events[8]
	b.ReportAllocs()
	for b.Loop() {
		o.Event(v, rec)
	}
}

// TestLogin: a wrong password is logged in plain words and retried; the
// right one, in the config or in the URL, logs in.
func TestLogin(t *testing.T) {
	b := startBrokerAuth(t, "127.0.0.1:0", new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
		Users: auth.Users{"ccslink": {Username: "ccslink", Password: "secret"}},
		ACL:   auth.ACLRules{{Filters: auth.Filters{"#": auth.ReadWrite}}},
	}})
	l := newLogs()
	newOutput(t, Config{Broker: b.url(), Username: "ccslink", Password: "wrong", Log: slog.New(l)})
	line := l.waitLog(t, "cannot connect to the broker", b.url(), "the broker refused the username or password; check them")
	if strings.Contains(line, "wrong") {
		t.Errorf("the log shows the password: %s", line)
	}

	l = newLogs()
	newOutput(t, Config{Broker: b.url(), Name: "eth2", Username: "ccslink", Password: "secret", Log: slog.New(l)})
	l.waitLog(t, "connected to the broker", b.url())

	l = newLogs()
	withUser := "tcp://ccslink:secret@" + b.addr
	newOutput(t, Config{Broker: withUser, Name: "eth3", Log: slog.New(l)})
	line = l.waitLog(t, "connected to the broker", "tcp://ccslink:xxxxx@"+b.addr)
	if strings.Contains(line, "secret") {
		t.Errorf("the log shows the password: %s", line)
	}
}

// TestValuesLoop: values the car repeats (a CurrentDemand loop) change no
// topic and leave the record unpublished; a new SoC publishes both.
func TestValuesLoop(t *testing.T) {
	o := newOutput(t, Config{Broker: "tcp://127.0.0.1:1"}) // never connects: nothing is taken off dirty
	rec := &record.Session{}
	for _, e := range ioniq()[:9] { // up to the first values
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.mu.Lock()
	o.dirty = map[string]bool{}
	o.mu.Unlock()
	demand := func(soc int) {
		e := record.Event{Kind: record.KindValues, At: t0.Add(time.Minute), Message: v2gmsg.CurrentDemandReq, Values: record.Values{SoC: ptr(soc), TargetCurrentA: ptr(float64(soc))}}
		rec.Apply(e)
		o.Event(e, rec)
	}
	for range 100 {
		demand(93)
	}
	o.mu.Lock()
	if len(o.dirty) != 0 {
		t.Errorf("repeated values left %v to publish", o.dirty)
	}
	o.mu.Unlock()
	demand(94)
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.dirty["soc"] || !o.dirty["session"] || !o.dirty["soc_timestamp"] || string(o.payloads["soc"]) != "94" || o.session.SoC.Value != 94 {
		t.Errorf("after a new SoC: dirty %v, soc %q", o.dirty, o.payloads["soc"])
	}
}

// TestNoComm: a car that never starts SLAC is told at once: state
// no-communication, the last car's values cleared (this car tells none) and
// its record; when it leaves, its final record and waiting.
func TestNoComm(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := subscribe(t, b, "ccslink/eth1/#")
	o := newOutput(t, Config{Broker: b.url()})
	rec := &record.Session{}
	for _, e := range ioniq() {
		rec.Apply(e)
		o.Event(e, rec)
	}
	o.PlugInEnded(rec)
	sub.wait(t, "ccslink/eth1/soc", "93")

	const words = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	rec = &record.Session{}
	for _, e := range []record.Event{
		{Kind: record.KindSLACStarted, At: t0},
		{Kind: record.KindEnded, At: t0.Add(10 * time.Second), End: record.EndNoComm, Detail: words},
	} {
		rec.Apply(e)
		o.Event(e, rec)
	}
	live, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for topic, p := range map[string]string{
		"soc": "", "full_soc": "", "energy_capacity": "", "energy_request": "", "evccid": "", "protocol": "", "soc_timestamp": "",
		"state": "no-communication", "session": string(live),
	} {
		sub.wait(t, "ccslink/eth1/"+topic, p)
	}
	if !strings.Contains(string(live), `"end":"no_digital_communication","end_detail":"`+words+`"`) {
		t.Fatalf("record %s", live)
	}

	gone := record.Event{Kind: record.KindEnded, At: t0.Add(40 * time.Second), End: record.EndNoComm, Detail: words, Gone: "the control pilot went back to state A"}
	rec.Apply(gone)
	o.Event(gone, rec)
	o.PlugInEnded(rec)
	final, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	sub.wait(t, "ccslink/eth1/session", string(final))
	sub.wait(t, "ccslink/eth1/state", "waiting")
}
