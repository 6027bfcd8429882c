package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// full sets every key to something other than its default.
var full = Config{
	Name:         "pi-garage",
	Interface:    "eth0",
	Policy:       "dc",
	EVSEID:       "DE*ABC*E1234",
	EmulateModem: true,
	V2GPort:      15200,
	SLAC:         SLAC{InitTimeout: 10 * time.Second},
	SmartEVSE: SmartEVSE{URL: "http://10.0.0.1/ev_state", Timeout: 1500 * time.Millisecond, Window: 90 * time.Second, Watch: 0, ChargeEfficiency: 0.85,
		UpdateInterval: 0},
	MQTT: MQTT{Broker: "tcp://user:pw@192.168.1.2:1883", Prefix: "home/car/", ClientID: "ccslink-garage", Username: "ccs",
		Password: "p\"a ss: #w", HomeAssistant: false, DiscoveryPrefix: "ha", UpdateInterval: 250 * time.Millisecond},
	HTTP:             HTTP{Listen: "0.0.0.0:8080", Token: "0123456789abcdef0123", UpdateInterval: 2 * time.Second},
	StateDir:         "/srv/ccslink",
	Recordings:       Recordings{Keep: 0},
	Sessions:         Sessions{Keep: 5},
	CapacityFallback: []Capacity{{EVCCID: "0465650064c3", CapacityWh: 28000}, {EVCCID: "*", CapacityWh: 58000}},
	Log:              Log{Level: "debug"},
}

const fullYAML = `name: pi-garage
interface: eth0
policy: dc
evse_id: DE*ABC*E1234
emulate_modem: true
v2g_port: 15200
slac:
  init_timeout: 10s
smartevse:
  url: http://10.0.0.1/ev_state
  timeout: 1.5s
  window: 90s
  watch: 0s
  follow: false
  charge_efficiency: 0.85
  update_interval: 0s
mqtt:
  broker: tcp://user:pw@192.168.1.2:1883
  prefix: home/car/
  client_id: ccslink-garage
  username: ccs
  password: 'p"a ss: #w'
  home_assistant: false
  discovery_prefix: ha
  update_interval: 250ms
http: {listen: "0.0.0.0:8080", token: 0123456789abcdef0123, update_interval: 2s}
state_dir: /srv/ccslink
recordings:
  keep: 0
sessions: {keep: 5}
capacity_fallback:
  - evccid: 0465650064C3
    capacity_wh: 28000
  - {evccid: "*", capacity_wh: 58000}
log:
  level: debug
`

func TestParseFull(t *testing.T) {
	c, err := Parse("ccslink.yaml", []byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, full) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", c, full)
	}
	// and back: YAML writes what Parse reads to the same Config
	again, err := Parse("again.yaml", c.YAML())
	if err != nil {
		t.Fatalf("YAML does not parse: %v\n%s", err, c.YAML())
	}
	if !reflect.DeepEqual(again, full) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", again, full)
	}
}

func TestEmptyIsDefault(t *testing.T) {
	for _, in := range []string{"", "\n", "# nothing\n", "---\n", "mqtt:\nhttp: {}\ncapacity_fallback:\n"} {
		c, err := Parse("empty.yaml", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Fatalf("%q: got %+v, want Default()", in, c)
		}
	}
}

// TestName: a daemon without a name takes the host's and the interface's,
// made fit for topics and Home Assistant's IDs; the MQTT prefix, client ID
// and discovery prefix follow it unless set.
func TestName(t *testing.T) {
	c, err := Parse("a.yaml", []byte("interface: wlan1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "" || c.MQTT.Prefix != "" || c.MQTT.ClientID != "" || c.MQTT.DiscoveryPrefix != "homeassistant" {
		t.Fatalf("name %q, prefix %q, client ID %q, discovery prefix %q; want \"\", \"\", \"\", homeassistant", c.Name, c.MQTT.Prefix, c.MQTT.ClientID, c.MQTT.DiscoveryPrefix)
	}
	if got := c.InstanceName("pi-garage"); got != "pi-garage-wlan1" {
		t.Errorf("InstanceName = %q, want pi-garage-wlan1", got)
	}
	c.Name = "carport"
	if got := c.InstanceName("pi-garage"); got != "carport" {
		t.Errorf("InstanceName with a name = %q, want carport", got)
	}
	for _, tc := range []struct{ host, iface, want string }{
		{"pi-garage", "eth1", "pi-garage-eth1"},
		{"Pi-Garage.fritz.box", "eth1", "pi-garage-eth1"},
		{"raspberry pi", "eth1.5", "raspberry-pi-eth1-5"},
		{"", "eth1", "eth1"},
		{"", "", "ccslink"},
		{"ÜberPi", "ev+", "berpi-ev"},
		{"__x__", "", "x"},
		{strings.Repeat("a", 80), "eth1", strings.Repeat("a", 64)},
	} {
		if got := DefaultName(tc.host, tc.iface); got != tc.want || !ValidName(got) {
			t.Errorf("DefaultName(%q, %q) = %q (valid %v), want %q", tc.host, tc.iface, got, ValidName(got), tc.want)
		}
	}
	for _, n := range []string{"", "Garage", "pi garage", "pi/garage", "-pi", "pi_", strings.Repeat("a", 65), "pi+"} {
		if ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
	// The broker's default ports: mqtt:// and tcp:// 1883, TLS 8883 (the output fills them in).
	for _, b := range []string{"mqtt://nas", "tcp://nas", "mqtts://nas", "ssl://nas.local", "tls://[fd00::1]", "MQTT://nas"} {
		if _, err := Parse("b.yaml", []byte("mqtt:\n  broker: "+b+"\n")); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
}

// TestExampleFile keeps packaging/ccslink.yaml what `ccslink config example` prints.
func TestExampleFile(t *testing.T) {
	data, err := os.ReadFile("../../packaging/ccslink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(Default().YAML()) {
		t.Fatal("packaging/ccslink.yaml differs from Default().YAML(): go run ./cmd/ccslink config example > packaging/ccslink.yaml")
	}
	c, err := Load("../../packaging/ccslink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("the example loads to %+v, not Default()", c)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     error
		want     string
	}{
		{"unknown key", "interface: eth1\nmqtt:\n  brokr: tcp://h:1883\n", ErrUnknownKey,
			"f.yaml:3:3: mqtt.brokr: unknown key (did you mean mqtt.broker?)"},
		{"unknown top key", "colour: red\n", ErrUnknownKey,
			"f.yaml:1:1: colour: unknown key: the keys here are capacity_fallback, cars, emulate_modem, evse_id, http, interface, log, mqtt, name, policy, recordings, sessions, slac, smartevse, state_dir, v2g, v2g_port"},
		{"bad type", "v2g_port: fifteen\n", ErrType,
			`f.yaml:1:11: v2g_port: must be a whole number, not the text "fifteen"`},
		{"bad bool", "mqtt:\n  home_assistant: yes\n", ErrType,
			`f.yaml:2:19: mqtt.home_assistant: must be true or false, not the text "yes"`},
		{"section not mapping", "smartevse: http://10.0.0.1\n", ErrType,
			`f.yaml:1:12: smartevse: must be a section of keys (indented below smartevse:), not the text "http://10.0.0.1"`},
		{"duration without unit", "smartevse:\n  timeout: 2\n", ErrType,
			"f.yaml:2:12: smartevse.timeout: 2 needs a unit: write e.g. 2s or 500ms"},
		{"bad duration", "smartevse:\n    timeout: 2 seconds\n", ErrValue,
			`f.yaml:2:14: smartevse.timeout: "2 seconds" is not a duration: write e.g. 2s or 500ms`},
		{"duration out of range", "smartevse:\n  timeout: 90s\n", ErrValue,
			"f.yaml:2:12: smartevse.timeout: 1m30s is out of range: use more than 0s and at most 1m (the SmartEVSE waits 60 s for the SoC)"},
		{"window out of range", "smartevse:\n  window: 0s\n", ErrValue,
			"f.yaml:2:11: smartevse.window: 0s is out of range: use more than 0s and at most 10m (the SmartEVSE waits 60 s for the SoC, so 1m is right for most)"},
		{"window too long", "smartevse:\n  window: 1h\n", ErrValue,
			"f.yaml:2:11: smartevse.window: 1h0m0s is out of range: use more than 0s and at most 10m (the SmartEVSE waits 60 s for the SoC, so 1m is right for most)"},
		{"init timeout too short", "slac:\n  init_timeout: 5s\n", ErrValue,
			"f.yaml:2:17: slac.init_timeout: 5s is out of range: use 10s (report a car that never talks soon) to 50s (ISO 15118-3's TT_EVSE_SLAC_init)"},
		{"init timeout too long", "slac:\n  init_timeout: 1m\n", ErrValue,
			"f.yaml:2:17: slac.init_timeout: 1m0s is out of range: use 10s (report a car that never talks soon) to 50s (ISO 15118-3's TT_EVSE_SLAC_init)"},
		{"efficiency too low", "smartevse:\n  charge_efficiency: 0.3\n", ErrValue,
			"f.yaml:2:22: smartevse.charge_efficiency: 0.3 is out of range: use 0.5 to 1, the share of the energy metered that reaches the battery (0.9 for most cars on AC)"},
		{"efficiency a percent", "smartevse:\n  charge_efficiency: 90\n", ErrValue,
			"f.yaml:2:22: smartevse.charge_efficiency: 90 is out of range: use 0.5 to 1, the share of the energy metered that reaches the battery (0.9 for most cars on AC)"},
		{"efficiency not a number", "smartevse:\n  charge_efficiency: high\n", ErrType,
			"f.yaml:2:22: smartevse.charge_efficiency: must be a number such as 0.9, not the text \"high\""},
		{"update interval negative", "smartevse:\n  update_interval: -5s\n", ErrValue,
			"f.yaml:2:20: smartevse.update_interval: -5s is negative: use 0s (every change sent as it comes) or a duration such as 5s (the SoC of an AC charge moves 1 % in minutes)"},
		{"mqtt update interval negative", "mqtt:\n  update_interval: -1s\n", ErrValue,
			"f.yaml:2:20: mqtt.update_interval: -1s is negative: use 0s (every change sent as it comes) or a duration such as 1s"},
		{"http update interval too long", "http:\n  update_interval: 1h\n", ErrValue,
			"f.yaml:2:20: http.update_interval: 1h0m0s is out of range: use 0s (every change sent as it comes) to 10m0s, such as 1s"},
		{"update interval without unit", "mqtt:\n  update_interval: 1\n", ErrType,
			"f.yaml:2:20: mqtt.update_interval: 1 needs a unit: write e.g. 2s or 500ms"},
		{"watch too short", "smartevse:\n  watch: 5s\n", ErrValue,
			"f.yaml:2:10: smartevse.watch: 5s is out of range: use 0s (not watched) or 10s to 10m (the SmartEVSE cuts CP for 5 s after the SoC, then the car takes a few seconds to draw current, so 1m is right for most)"},
		{"bad policy", "# charger\npolicy: fast\n", ErrValue,
			`f.yaml:2:9: policy: "fast" is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)`},
		{"listen without token", "http:\n  listen: \":8080\"\n", ErrValue,
			`f.yaml:2:11: http.listen: ":8080" is reachable from the network: set http.token (e.g. the output of ` + "`openssl rand -hex 16`" + `) or listen on 127.0.0.1`},
		{"short token", "http:\n  listen: 192.168.1.5:80\n  token: secret\n", ErrValue,
			"f.yaml:3:10: http.token: too short (6 characters): use at least 16, e.g. the output of `openssl rand -hex 16`"},
		{"capacity in kWh", "capacity_fallback:\n  - evccid: \"*\"\n    capacity_wh: 28\n", ErrValue,
			"f.yaml:3:18: capacity_fallback[0].capacity_wh: 28 Wh is not a battery capacity: give it in Wh, from 1000 to 500000 (28 kWh is 28000)"},
		{"capacity bad evccid", "capacity_fallback:\n  - {evccid: car1, capacity_wh: 28000}\n", ErrValue,
			`f.yaml:2:14: capacity_fallback[0].evccid: "car1" is not an EVCCID: 2 to 16 hex digits (as ` + "`ccslink evse`" + ` prints it, e.g. 0465650064c3), or "*" for any car`},
		{"capacity missing", "capacity_fallback:\n  - evccid: \"*\"\n", ErrValue,
			`f.yaml:2:5: capacity_fallback[0].capacity_wh: missing: every entry needs evccid (hex, or "*" for any car) and capacity_wh`},
		{"capacity twice", "capacity_fallback:\n  - {evccid: \"*\", capacity_wh: 28000}\n  - {evccid: \"*\", capacity_wh: 30000}\n", ErrValue,
			`f.yaml:3:14: capacity_fallback[1].evccid: "*" is already given in capacity_fallback[0]`},
		{"capacity not a list", "capacity_fallback: 28000\n", ErrType,
			`f.yaml:1:20: capacity_fallback: must be a list of entries such as "- {evccid: \"*\", capacity_wh: 28000}", not the number 28000`},
		{"broker with an empty port", "mqtt:\n  broker: \"tcp://nas:\"\n", ErrValue,
			`f.yaml:2:11: mqtt.broker: "tcp://nas:" has an empty port: give it, or leave out the ':' for the default (1883, 8883 for TLS)`},
		{"broker without scheme", "mqtt:\n  broker: nas:1883\n", ErrValue,
			`f.yaml:2:11: mqtt.broker: "nas:1883" is not a broker URL: write scheme://host:port, e.g. tcp://192.168.1.2:1883 (schemes tcp and mqtt, port 1883 when none is given; for TLS ssl, tls and mqtts, port 8883)`},
		{"broker over websockets", "mqtt:\n  broker: ws://nas:9001\n", ErrValue,
			`f.yaml:2:11: mqtt.broker: "ws://nas:9001" is not a broker URL: write scheme://host:port, e.g. tcp://192.168.1.2:1883 (schemes tcp and mqtt, port 1883 when none is given; for TLS ssl, tls and mqtts, port 8883)`},
		{"client ID with a space", "mqtt:\n  client_id: ccslink garage\n", ErrValue,
			`f.yaml:2:14: mqtt.client_id: "ccslink garage" is not a client ID: at most 128 printable ASCII characters without spaces, e.g. ccslink-garage`},
		{"discovery prefix wildcard", "mqtt:\n  discovery_prefix: ha/#\n", ErrValue,
			`f.yaml:2:21: mqtt.discovery_prefix: "ha/#" holds an MQTT wildcard ('+' or '#'), which a topic cannot`},
		{"discovery prefix empty", "mqtt:\n  discovery_prefix: \"\"\n", ErrValue,
			`f.yaml:2:21: mqtt.discovery_prefix: empty: leave the key out for Home Assistant's default, homeassistant`},
		{"smartevse query", "smartevse:\n  url: http://10.0.0.1/ev_state?x=1\n", ErrValue,
			`f.yaml:2:8: smartevse.url: "http://10.0.0.1/ev_state?x=1" carries a query or fragment, which the values sent replace: leave out what follows '?' or '#'`},
		{"prefix without slash", "mqtt:\n  prefix: car\n", ErrValue,
			`f.yaml:2:11: mqtt.prefix: "car" must end in '/', e.g. "car/"`},
		{"bad log level", "log:\n  level: verbose\n", ErrValue,
			`f.yaml:2:10: log.level: "verbose" is not a log level: use debug, info, warn or error`},
		{"name with capitals and a space", "# the name is in topics and IDs\nname: Pi Garage\n", ErrValue,
			`f.yaml:2:7: name: "Pi Garage" is not a name for MQTT topics and Home Assistant: use lower-case letters, digits, '-' and '_' (at most 64), e.g. "pi-garage"`},
		{"name of symbols", "name: \"+++\"\n", ErrValue,
			`f.yaml:1:7: name: "+++" is not a name for MQTT topics and Home Assistant: use lower-case letters, digits, '-' and '_' (at most 64), e.g. pi-garage`},
		{"empty interface", "interface:\n", ErrValue,
			"f.yaml:1:1: interface: empty: name the modem's network interface, e.g. eth1 (see `ip link`)"},
		{"relative state dir", "state_dir: var/lib\n", ErrValue,
			`f.yaml:1:12: state_dir: "var/lib" is not an absolute directory below /, e.g. /var/lib/ccslink`},
		{"alias", "interface: &i eth0\nevse_id: *i\n", ErrSyntax,
			"f.yaml:1:12: interface: anchors (&), aliases (*), tags (!) and merge keys (<<) are not supported: write the value itself\n" +
				"f.yaml:2:10: evse_id: anchors (&), aliases (*), tags (!) and merge keys (<<) are not supported: write the value itself"},
		{"syntax", "interface: [eth0\n", ErrSyntax,
			"f.yaml:1:12: not valid YAML: sequence end token ']' not found"},
		{"key twice", "policy: soc\npolicy: dc\n", ErrSyntax,
			`f.yaml:2:1: not valid YAML: mapping key "policy" already defined at [1:1]`},
		{"not a mapping", "- eth1\n", ErrType,
			`f.yaml:1:1: the file must be keys and values, e.g. "interface: eth1", not a list`},
		{"two documents", "policy: soc\n---\npolicy: dc\n", ErrSyntax,
			"f.yaml:3:1: a second YAML document: the file holds one (remove the '---' line)"},
		{"long value", "policy: " + strings.Repeat("x", 1000) + "\n", ErrValue,
			`f.yaml:1:9: policy: "` + strings.Repeat("x", 80) + `..." is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)`},
		{"several", "policy: x\nv2g_port: 70000\nlog: {level: loud}\n", ErrValue,
			`f.yaml:1:9: policy: "x" is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)` + "\n" +
				"f.yaml:2:11: v2g_port: 70000 is not a TCP port: use 1 to 65535, or 0 for any free port\n" +
				`f.yaml:3:14: log.level: "loud" is not a log level: use debug, info, warn or error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got %s\nwant %s", err, tc.want)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error is not %v", tc.kind)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "f.yaml" || e.Line == 0 || e.Column == 0 {
				t.Fatalf("error %#v has no file, line and column", e)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default: %v", err)
	}
	if err := full.Validate(); err != nil {
		t.Fatalf("full: %v", err)
	}
	c := Default()
	c.HTTP.Listen = "[::]:8080"
	c.Policy = "AC"
	err := c.Validate()
	want := `policy: "AC" is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)` + "\n" +
		`http.listen: "[::]:8080" is reachable from the network: set http.token (e.g. the output of ` + "`openssl rand -hex 16`" + `) or listen on 127.0.0.1`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate:\n got %v\nwant %s", err, want)
	}
	for _, listen := range []string{"127.0.0.1:8080", "localhost:80", "[::1]:8080", "127.1.2.3:9000"} {
		c := Default()
		c.HTTP.Listen = listen
		if err := c.Validate(); err != nil {
			t.Errorf("%s is loopback: %v", listen, err)
		}
	}
	c = Default()
	c.Interface = "eth1\x00"
	if err := c.Validate(); err == nil || err.Error() != `interface: "eth1\x00" holds a control character` {
		t.Fatalf("control character: %v", err)
	}
}

func TestCapacity(t *testing.T) {
	c := full
	for _, tc := range []struct {
		evccid string
		wh     int
		ok     bool
	}{
		{"0465650064c3", 28000, true},
		{"0465650064C3", 28000, true},
		{"0011223344", 58000, true},
		{"", 58000, true},
	} {
		wh, ok := c.Capacity(tc.evccid)
		if wh != tc.wh || ok != tc.ok {
			t.Errorf("Capacity(%q) = %d, %v; want %d, %v", tc.evccid, wh, ok, tc.wh, tc.ok)
		}
	}
	c.CapacityFallback = c.CapacityFallback[:1]
	if wh, ok := c.Capacity("0011223344"); ok || wh != 0 {
		t.Errorf("without \"*\", another car gets %d, %v", wh, ok)
	}
	if wh, ok := c.Capacity("0465650064c3"); !ok || wh != 28000 {
		t.Errorf("without \"*\", the car's own entry gives %d, %v", wh, ok)
	}
}

func TestRedacted(t *testing.T) {
	r := full.Redacted()
	if r.MQTT.Password != "<redacted>" || r.HTTP.Token != "<redacted>" {
		t.Fatalf("secrets left: %q, %q", r.MQTT.Password, r.HTTP.Token)
	}
	if r.MQTT.Broker != "tcp://<redacted>@192.168.1.2:1883" {
		t.Fatalf("broker %q", r.MQTT.Broker)
	}
	if r.SmartEVSE.URL != full.SmartEVSE.URL || r.MQTT.Username != "ccs" || r.Interface != "eth0" {
		t.Fatalf("Redacted changed more than the secrets: %+v", r)
	}
	if full.MQTT.Password != "p\"a ss: #w" {
		t.Fatal("Redacted changed its receiver")
	}
	if d := Default().Redacted(); !reflect.DeepEqual(d, Default()) {
		t.Fatalf("no secrets, yet Redacted changed %+v", d)
	}
	if y := string(r.YAML()); strings.Contains(y, "#w") || strings.Contains(y, "0123456789abcdef") || strings.Contains(y, ":pw@") {
		t.Fatalf("a secret in the redacted YAML:\n%s", y)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "missing.yaml"))
	var e *Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &e) || e.File != filepath.Join(dir, "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
	if !strings.Contains(err.Error(), "ccslink config example > ") {
		t.Fatalf("the error does not say how to write one: %v", err)
	}

	yml := filepath.Join(dir, "ccslink.yaml")
	os.WriteFile(yml, []byte(fullYAML), 0o600)
	if c, err := Load(yml); err != nil || !reflect.DeepEqual(c, full) {
		t.Fatalf("Load: %+v, %v", c, err)
	}
	os.WriteFile(yml, []byte("policy: x\n"), 0o600)
	if _, err := Load(yml); err == nil || !strings.HasPrefix(err.Error(), yml+":1:9: policy: ") {
		t.Fatalf("Load of a bad file: %v", err)
	}

	// a pyPLC.ini is read by its name, or by its content under any name
	for _, name := range []string{"pyPlc.ini", "pyplc.conf"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(pyplcINI), 0o600)
		c, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		if c.SmartEVSE.URL != "http://10.0.0.1/ev_state" || c.Interface != "eth1" {
			t.Fatalf("Load(%s): %+v", name, c)
		}
	}
	p := filepath.Join(dir, "pev.ini")
	os.WriteFile(p, []byte("[general]\nmode = PevMode\n"), 0o600)
	if _, err := Load(p); !errors.Is(err, ErrMode) || !strings.HasPrefix(err.Error(), p+":2:8: mode: ") {
		t.Fatalf("Load of PevMode: %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, make([]byte, maxFileSize+1), 0o600)
	if _, err := Load(big); !errors.Is(err, ErrValue) {
		t.Fatalf("Load of a huge file: %v", err)
	}
}

func TestIsINI(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       bool
	}{
		{"pyPlc.ini", "", true},
		{"PYPLC.INI", "interface: eth1", true},
		{"x", "# pyPLC\n\n[general]\nmode = EvseMode\n", true},
		{"x", "; a comment\n[general]\n", true},
		{"x", "interface: eth1\n[general]\n", false},
		{"x", "[eth1, eth0]\n", false},
		{"ccslink.yaml", "", false},
	} {
		if got := IsINI(tc.name, []byte(tc.data)); got != tc.want {
			t.Errorf("IsINI(%q, %q) = %v", tc.name, tc.data, got)
		}
	}
}

// TestV2GISO20: the switches of ISO 15118-20 read as written, off by default.
func TestV2GISO20(t *testing.T) {
	if d := Default().V2G; d.ISO20 || d.ISO20First {
		t.Fatalf("default %+v", d)
	}
	c, err := Parse("f.yaml", []byte("v2g:\n  iso20: true\n"))
	if err != nil || !c.V2G.ISO20 || c.V2G.ISO20First {
		t.Fatalf("iso20: %+v %v", c.V2G, err)
	}
	c, err = Parse("f.yaml", []byte("v2g: {iso20_first: true}\n"))
	if err != nil || c.V2G.ISO20 || !c.V2G.ISO20First {
		t.Fatalf("iso20_first: %+v %v", c.V2G, err)
	}
	if _, err := Parse("f.yaml", []byte("v2g:\n  iso20: maybe\n")); !errors.Is(err, ErrType) {
		t.Fatalf("iso20: maybe: %v", err)
	}
}

// TestRefusedItemKeepsIndex: an item of a list refused as a whole still
// holds its place, so every error names the file's index and a line.
func TestRefusedItemKeepsIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"capacity_fallback:\n  -\n  - {evccid: zz, capacity_wh: 28000}\n", []string{
			"f.yaml:2:4: capacity_fallback[0]: must be an entry with evccid and capacity_wh, not nothing",
			`f.yaml:3:14: capacity_fallback[1].evccid: "zz" is not an EVCCID: 2 to 16 hex digits (as ` + "`ccslink evse`" + ` prints it, e.g. 0465650064c3), or "*" for any car`}},
		{"cars:\n  - 7\n  - {name: Ioniq, id: ioniq, mac: \"04:65:65:xx:xx:xx\", strategy: cp-off}\n", []string{
			"f.yaml:2:5: cars[0]: must be a car with name, id and mac, not the number 7",
			`f.yaml:3:66: cars[1].strategy: "cp-off" is not a handover strategy: use one of deliver-now, end-then-deliver, x1-then-pwm, no-negotiation, identify-only`}},
	} {
		_, err := Parse("f.yaml", []byte(tc.in))
		var l Errors
		if !errors.As(err, &l) {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var lines []string
		for _, e := range l {
			if e.Line == 0 {
				t.Errorf("%q: error without a line: %v", tc.in, e)
			}
			lines = append(lines, e.Error())
		}
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%q: no error %q in\n%s", tc.in, w, strings.Join(lines, "\n"))
			}
		}
	}
}
