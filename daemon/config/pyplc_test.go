package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// values drops the comments of a YAML file: what it sets.
func values(y []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(y), "\n") {
		if t := strings.TrimSpace(line); t != "" && t[0] != '#' {
			b.WriteString(line)
		}
	}
	return b.String()
}

// comments keeps only the comments of a YAML file.
func comments(y []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(y), "\n") {
		if t := strings.TrimSpace(line); t != "" && t[0] == '#' && !strings.HasPrefix(t, "# prefix:") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestFromPyPLC(t *testing.T) {
	c, notes, err := FromPyPLC([]byte(pyplcINI))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.SmartEVSE.URL = "http://10.0.0.1/ev_state"
	want.CapacityFallback = []Capacity{{EVCCID: "*", CapacityWh: 27000}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	y := c.YAML()
	const wantValues = `name: ""
interface: "eth1"
policy: "soc"
evse_id: ""
emulate_modem: false
v2g_port: 0
v2g:
  iso20: false
  iso20_first: false
slac:
  init_timeout: 50s
smartevse:
  url: "http://10.0.0.1/ev_state"
  timeout: 2s
  window: 1m0s
  vehicle_id: false
  watch: 1m0s
  write_pwm: false
  follow: true
  charge_efficiency: 0.9
  update_interval: 5s
mqtt:
  broker: ""
  prefix: ""
  client_id: ""
  username: ""
  password: ""
  home_assistant: true
  discovery_prefix: "homeassistant"
  update_interval: 1s
http:
  listen: ""
  token: ""
  update_interval: 1s
state_dir: "/var/lib/ccslink"
recordings:
  keep: 20
sessions:
  keep: 100
capacity_fallback:
  - evccid: "*"
    capacity_wh: 27000
cars: []
log:
  level: "info"
`
	if got := values(y); got != wantValues {
		t.Fatalf("YAML:\n%s\nwant:\n%s", got, wantValues)
	}
	if comments(y) != comments(Default().YAML()) {
		t.Fatalf("the imported YAML lost the example's comments:\n%s", y)
	}
	if back, err := Parse("imported.yaml", y); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("the imported YAML reads back as %+v, %v", back, err)
	}

	wantNotes := []string{
		"line 3: mode = EvseMode: ccslink is the charger, as in EvseMode; policy soc reads the car's SoC as pyPLC did",
		"line 4: is_simulation_without_modems = false: -> emulate_modem: false",
		"line 5: eth_interface = eth1: -> interface: eth1",
		`line 6: eth_windows_interface_name = \Device\NPF_{E4B8176C-8516-4D48-88BC-85225ABCF259}: no equivalent: ccslink runs on Linux only`,
		"line 7: display_via_serial = no: no equivalent: ccslink drives no display; `ccslink evse` prints one line per plug-in, and the HTTP page shows the car",
		"line 8: light_bulb_demo = no: no equivalent: a PevMode feature",
		"line 9: soc_simulation = yes: no equivalent: a PevMode feature; `ccslink sim` and `ccslink pev` simulate cars",
		"line 10: evse_simulate_precharge = yes: no equivalent: the dc policy always simulates the precharge",
		"line 11: digital_output_device = dieter: no equivalent: ccslink switches no CP or relay outputs: the SmartEVSE does",
		"line 12: analog_input_device = none: no equivalent: ccslink measures no inlet voltage (a PevMode feature)",
		"line 13: use_evsepresentvoltage_for_precharge_end = yes: no equivalent: a PevMode feature",
		"line 14: use_physical_inlet_voltage_during_chargeloop = no: no equivalent: a PevMode feature",
		"line 15: u_delta_max_for_end_of_precharge = 10: no equivalent: a PevMode feature",
		"line 16: serial_port = auto: no equivalent: ccslink uses no serial devices",
		"line 17: serial_baud = 19200: no equivalent: ccslink uses no serial devices",
		"line 18: mqtt_broker = localhost: not imported: pyPLC connects to it only when digital_output_device, analog_input_device or charge_parameter_backend is mqtt, and none is; set mqtt.broker to publish the car's values",
		"line 19: mqtt_topic = pyPlc: not imported, as mqtt_broker",
		"line 20: charge_target_voltage = 270: no equivalent: a PevMode feature",
		"line 21: exit_on_session_end = True: no equivalent: ccslink serves plug-in after plug-in and keeps each plug-in's record in state_dir",
		"line 22: allow_new_session_after_stopping = True: no equivalent: ccslink always serves the next plug-in",
		"line 23: exit_if_no_local_link_address_is_found = True: no equivalent: `ccslink doctor` checks the modem's interface and its address",
		"line 24: log_the_evse_mac_to_file = True: no equivalent: a PevMode and ListenMode feature; ccslink keeps each plug-in's record, with the car's MAC, in state_dir",
		"line 26: testsuite_enable = No: no equivalent: pyPLC's fault-injection tests; ccslink's tests are `go test ./...`",
		"line 27: udp_syslog_enable = No: no equivalent: ccslink logs to stderr (the journal under systemd); set log.level",
		"line 28: charge_parameter_backend = none: no equivalent: ccslink takes no charge parameters from MQTT or CHAdeMO; it publishes the car's values to mqtt.broker",
		"line 29: evsemode_environment = none: no equivalent: ccslink supports no special charger hardware",
		"line 30: evse_power_supply_control_via_special_homeplug_message = False: no equivalent: ccslink controls no power supply",
		"line 31: evse_printtrace = False: -> log.level: info",
		"line 32: evse_show_decoded_transmit_message = False: no equivalent: `ccslink evse -v` logs every request and answer; `ccslink decode` decodes a message",
		"line 33: sniffer_print_raw_exi = False: no equivalent: record with tcpdump and decode with `ccslink decode`",
		"line 35: soc_callback_enabled = True: on: soc_callback_endpoint becomes smartevse.url",
		"line 36: soc_callback_endpoint = http://10.0.0.1/ev_state: -> smartevse.url: http://10.0.0.1/ev_state (a URL with a path such as /ev_state is used as given, a base URL gets /ev_state appended)",
		`line 37: soc_fallback_energy_capacity = 2700: -> capacity_fallback "*": 27000 Wh (pyPLC multiplies the value by 10: 2700 means 27 kWh)`,
		"line 38: logging_url = http://enteryourhosthere.org/pyPlcLogging/addLog.php: no equivalent: ccslink posts no logs; its HTTP API and MQTT output report each plug-in",
		"line 39: smart_listener_configuration = 1: no equivalent: a ListenMode feature",
	}
	var got []string
	for _, n := range notes {
		got = append(got, n.String())
	}
	if strings.Join(got, "\n") != strings.Join(wantNotes, "\n") {
		t.Fatalf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantNotes, "\n"))
	}
	for _, n := range notes {
		if strings.HasPrefix(n.Msg, "no equivalent") && n.To != "" {
			t.Errorf("note %q: To %q", n, n.To)
		}
	}
}

// TestFromPyPLCMQTT: a pyPLC that used MQTT keeps its broker and topic.
func TestFromPyPLCMQTT(t *testing.T) {
	ini := "[DEFAULT]\nmqtt_topic = house\n\n[general]\n" +
		"mode=EvseMode\neth_interface : eth0\nis_simulation_without_modems = on\ncharge_parameter_backend = mqtt\n" +
		"mqtt_broker = 192.168.1.9\nevse_printtrace = yes\nsoc_callback_enabled = no\nsoc_callback_endpoint = http://1.1.1.1\n" +
		"soc_fallback_energy_capacity = 0\nnew_key = %(mqtt_topic)s 100%%\n  continued\n\n[other]\nx = 1\n"
	c, notes, err := FromPyPLC([]byte(ini))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Interface = "eth0"
	want.EmulateModem = true
	want.MQTT.Broker = "tcp://192.168.1.9:1883"
	want.MQTT.Prefix = "house/"
	want.Log.Level = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	var got []string
	for _, n := range notes {
		got = append(got, n.String())
	}
	wantNotes := []string{
		"line 2: mqtt_topic = house: -> mqtt.prefix: house/ (ccslink publishes its own topics below it, not pyPLC's)",
		"line 5: mode = EvseMode: ccslink is the charger, as in EvseMode; policy soc reads the car's SoC as pyPLC did",
		"line 6: eth_interface = eth0: -> interface: eth0",
		"line 7: is_simulation_without_modems = on: -> emulate_modem: true (ccslink then answers the modem's messages itself: for a veth pair, never with a real modem)",
		"line 8: charge_parameter_backend = mqtt: no equivalent: ccslink takes no charge parameters from MQTT or CHAdeMO; it publishes the car's values to mqtt.broker",
		"line 9: mqtt_broker = 192.168.1.9: -> mqtt.broker: tcp://192.168.1.9:1883 (pyPLC used MQTT, charge_parameter_backend = mqtt)",
		"line 10: evse_printtrace = yes: -> log.level: debug",
		"line 11: soc_callback_enabled = no: off: smartevse.url stays empty, nothing is posted",
		"line 12: soc_callback_endpoint = http://1.1.1.1: not imported: soc_callback_enabled is off",
		"line 13: soc_fallback_energy_capacity = 0: 0: no fallback capacity, as in pyPLC",
		"line 14: new_key = %(mqtt_topic)s 100%%\ncontinued: no equivalent: not a key of pyPLC's template",
		"line 18: x = 1: no equivalent: pyPLC reads [general] only, not [other]",
	}
	if strings.Join(got, "\n") != strings.Join(wantNotes, "\n") {
		t.Fatalf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantNotes, "\n"))
	}
}

func TestFromPyPLCInterpolation(t *testing.T) {
	ini := "[general]\nhost = 10.0.0.1\nsoc_callback_enabled = 1\nsoc_callback_endpoint = http://%(host)s/ev_state\n"
	c, _, err := FromPyPLC([]byte(ini))
	if err != nil || c.SmartEVSE.URL != "http://10.0.0.1/ev_state" {
		t.Fatalf("%q, %v", c.SmartEVSE.URL, err)
	}
}

// bomb is an ini whose eth_interface would expand to 10^9 references.
var bomb = "eth_interface = " + strings.Repeat("%(k1)s", 10) + "\n" + func() string {
	var b strings.Builder
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "k%d = %s\n", i, strings.Repeat(fmt.Sprintf("%%(k%d)s", i+1), 10))
	}
	return b.String() + "k10 =\n"
}()

// mapped are the pyPLC keys FromPyPLC imports.
var mapped = map[string]bool{"mode": true, "eth_interface": true, "is_simulation_without_modems": true,
	"soc_callback_enabled": true, "soc_callback_endpoint": true, "soc_fallback_energy_capacity": true,
	"mqtt_broker": true, "mqtt_topic": true, "evse_printtrace": true}

func TestFromPyPLCErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     error
		want     string
	}{
		{"PevMode", "[general]\n# the car\nmode = PevMode\neth_interface = eth0\n", ErrMode,
			"3:8: mode: PevMode is not imported: ccslink replaces pyPLC's charger mode (EvseMode) only; set mode = EvseMode, or keep pyPLC for PevMode"},
		{"ListenMode", "[general]\nmode: ListenMode\n", ErrMode,
			"2:7: mode: ListenMode is not imported: ccslink replaces pyPLC's charger mode (EvseMode) only; set mode = EvseMode, or keep pyPLC for ListenMode"},
		{"other mode", "[general]\nmode = Charger\n", ErrValue,
			`2:8: mode: "Charger" is not a pyPLC mode: ccslink imports EvseMode only`},
		{"no section", "mode = EvseMode\n", ErrSyntax,
			"1:1: mode: comes before any section: pyPLC reads its keys below a [general] line"},
		{"not key value", "[general]\nmode EvseMode\n", ErrSyntax,
			`2:1: "mode EvseMode" is not "key = value"`},
		{"key twice", "[general]\nmode = EvseMode\nMODE = EvseMode\n", ErrSyntax,
			"3:1: mode: given twice in section [general]: keep one"},
		{"section twice", "[general]\n[general]\n", ErrSyntax,
			"2:1: section [general] appears twice: keep one"},
		{"bad bool", "[general]\nsoc_callback_enabled = maybe\nsoc_callback_endpoint = http://10.0.0.1\n", ErrValue,
			`2:24: soc_callback_enabled: "maybe" is not a boolean: write yes or no (or true/false, on/off, 1/0)`},
		{"endpoint missing", "[general]\nsoc_callback_enabled = True\n", ErrValue,
			"2:24: soc_callback_enabled: on, but soc_callback_endpoint is missing: add soc_callback_endpoint = http://<smartevse-address>/ev_state"},
		{"empty endpoint", "[general]\nsoc_callback_enabled = True\nsoc_callback_endpoint =\n", ErrValue,
			"3:24: soc_callback_endpoint: empty, but soc_callback_enabled is on: give the SmartEVSE's address, e.g. http://10.0.0.1/ev_state"},
		{"bad reference in endpoint", "[general]\nsoc_callback_enabled = True\nsoc_callback_endpoint = %(host)s\n", ErrSyntax,
			"3:25: soc_callback_endpoint: %(host)s names no key of [general]"},
		{"bad endpoint", "[general]\nsoc_callback_enabled = True\nsoc_callback_endpoint = 10.0.0.1\n", ErrValue,
			`3:25: soc_callback_endpoint: "10.0.0.1" is not an http:// or https:// URL: give the SmartEVSE's address, e.g. http://10.0.0.1`},
		{"bad capacity", "[general]\nsoc_fallback_energy_capacity = 27kWh\n", ErrValue,
			`2:32: soc_fallback_energy_capacity: "27kWh" is not a whole number (pyPLC's unit is 10 Wh: 2700 means 27 kWh)`},
		{"small capacity", "[general]\nsoc_fallback_energy_capacity = 27\n", ErrValue,
			"2:32: soc_fallback_energy_capacity: 270 Wh is not a battery capacity: give it in Wh, from 1000 to 500000 (28 kWh is 28000)"},
		{"bad interface", "[general]\neth_interface = eth 1\n", ErrValue,
			`2:17: eth_interface: "eth 1" is not a network interface name (at most 15 characters, no '/', ':' or space; see ` + "`ip link`)"},
		{"bad percent", "[general]\neth_interface = eth%1\n", ErrSyntax,
			`2:17: eth_interface: "eth%1": a % sign must be written %% (pyPLC's configparser refuses it otherwise)`},
		{"interpolation loop", "[general]\na = %(b)s\nb = %(a)s\neth_interface = %(a)s\n", ErrSyntax,
			"4:17: eth_interface: %(name)s references nest deeper than 10 (a loop?)"},
		{"no general", "[DEFAULT]\nmode = EvseMode\n", ErrSyntax,
			"1:1: no [general] section: pyPLC reads its keys below a [general] line"},
		{"empty", "", ErrSyntax,
			"1:1: no [general] section: pyPLC reads its keys below a [general] line"},
		{"interpolation bomb", "[general]\n" + bomb, ErrSyntax,
			"2:17: eth_interface: %(name)s references expand to more than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := FromPyPLC([]byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got %s\nwant %s", err, tc.want)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error is not %v", tc.kind)
			}
			if _, notes, _ := FromPyPLC([]byte(tc.in)); slices.ContainsFunc(notes, func(n Note) bool {
				return strings.Contains(n.Msg, "not a key of") && (unmapped[n.Key] != "" || mapped[n.Key])
			}) {
				t.Fatalf("a known key noted as unknown: %q", notes)
			}
			if _, err := Parse("pyPlc.ini", []byte(tc.in)); err == nil || err.Error() != "pyPlc.ini:"+tc.want {
				t.Fatalf("Parse names no file: %v", err)
			}
		})
	}
}

func TestNoteString(t *testing.T) {
	n := Note{Key: "mode", To: "policy", Msg: "missing: taken as EvseMode (pyPLC's command line may have set it)"}
	if n.String() != "mode: missing: taken as EvseMode (pyPLC's command line may have set it)" {
		t.Fatal(n.String())
	}
	_, notes, err := FromPyPLC([]byte("[general]\n"))
	if err != nil || len(notes) != 2 || notes[0].String() != "eth_interface: missing: interface stays eth1" || notes[1] != n {
		t.Fatalf("%q, %v", notes, err)
	}
}
