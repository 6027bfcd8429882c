package config

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Note is what FromPyPLC did with one key of a pyPLC.ini: how it was
// mapped, or why it has no equivalent.
type Note struct {
	Line  int    // the key's line in the ini; 0 for a key that is missing
	Key   string // the pyPLC key, lower case
	Value string // its value as written
	To    string // the ccslink key it became; "" when it has no equivalent
	Msg   string // what happened, in a sentence
}

// String is the note as `ccslink config import-pyplc` prints it.
func (n Note) String() string {
	var b strings.Builder
	if n.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", n.Line)
	}
	b.WriteString(n.Key)
	if n.Line > 0 {
		b.WriteString(" = ")
		b.WriteString(n.Value)
	}
	b.WriteString(": ")
	b.WriteString(n.Msg)
	return b.String()
}

// iniValue is one key of an ini section.
type iniValue struct {
	raw       string // as written, continuation lines joined by "\n"
	line, col int    // where the value starts
	section   string
}

// ini is a parsed ini file in Python's configparser dialect.
type ini struct {
	sections map[string]map[string]*iniValue // section -> lower-case key -> value
	order    []string                        // section names in file order
}

// parseINI reads data as Python's configparser does with its defaults:
// [section] lines, "key = value" or "key: value", case-insensitive keys,
// whole-line # and ; comments, indented continuation lines, no key twice.
func parseINI(data []byte) (*ini, error) {
	f := &ini{sections: map[string]map[string]*iniValue{}}
	var l list
	section := ""
	var last *iniValue
	n := 0
	for raw := range bytes.Lines(data) {
		n++
		line := strings.TrimRight(string(raw), "\r\n")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			if trimmed == "" {
				last = nil
			}
			continue
		}
		if last != nil && (line[0] == ' ' || line[0] == '\t') {
			last.raw += "\n" + trimmed
			continue
		}
		last = nil
		if trimmed[0] == '[' {
			if !strings.HasSuffix(trimmed, "]") || len(trimmed) < 3 {
				l.add(n, 1, "", ErrSyntax, "%q is not a section line: write it as [general]", brief(trimmed))
				continue
			}
			section = trimmed[1 : len(trimmed)-1]
			if _, dup := f.sections[section]; dup {
				l.add(n, 1, "", ErrSyntax, "section [%s] appears twice: keep one", brief(section))
				continue
			}
			f.sections[section] = map[string]*iniValue{}
			f.order = append(f.order, section)
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			l.add(n, 1, "", ErrSyntax, "%q is not \"key = value\"", brief(trimmed))
			continue
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		if key == "" {
			l.add(n, 1, "", ErrSyntax, "a value without a key name")
			continue
		}
		if section == "" {
			l.add(n, 1, key, ErrSyntax, "comes before any section: pyPLC reads its keys below a [general] line")
			continue
		}
		if _, dup := f.sections[section][key]; dup {
			l.add(n, 1, key, ErrSyntax, "given twice in section [%s]: keep one", brief(section))
			continue
		}
		value := line[i+1:]
		col := i + 2 + len(value) - len(strings.TrimLeft(value, " \t"))
		last = &iniValue{raw: strings.TrimSpace(value), line: n, col: col, section: section}
		f.sections[section][key] = last
	}
	return f, l.err()
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// maxInterpolation bounds the bytes and references one value may expand
// to: ten levels of references could otherwise multiply a small file into
// gigabytes.
const maxInterpolation = 64 << 10

// get returns a key of [general] (or [DEFAULT]) with configparser's
// interpolation applied: "%%" is "%", "%(name)s" is the value of name.
func (f *ini) get(key string) (*iniValue, string, error) {
	v := f.lookup(key)
	if v == nil {
		return nil, "", nil
	}
	budget := maxInterpolation
	s, err := f.interpolate(v, key, v.raw, 1, &budget)
	return v, s, err
}

func (f *ini) lookup(key string) *iniValue {
	if v := f.sections["general"][key]; v != nil {
		return v
	}
	return f.sections["DEFAULT"][key]
}

func (f *ini) interpolate(at *iniValue, key, s string, depth int, budget *int) (string, error) {
	fail := func(format string, args ...any) (string, error) {
		return "", &Error{Line: at.line, Column: at.col, Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrSyntax}
	}
	if *budget -= len(s) + 1; *budget < 0 {
		return fail("%%(name)s references expand to more than %d bytes", maxInterpolation)
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	if depth > maxInterpolationDepth {
		return fail("%%(name)s references nest deeper than %d (a loop?)", maxInterpolationDepth)
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "%%"):
			b.WriteByte('%')
			s = s[2:]
		case strings.HasPrefix(s, "%("):
			end := strings.Index(s, ")s")
			if end < 0 {
				return fail("%q: a %%(name)s reference is not closed; write %%%% for a %% sign", brief(at.raw))
			}
			name := strings.ToLower(s[2:end])
			ref := f.lookup(name)
			if ref == nil {
				return fail("%%(%s)s names no key of [general]", brief(name))
			}
			v, err := f.interpolate(at, key, ref.raw, depth+1, budget)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			s = s[end+2:]
		default:
			return fail("%q: a %% sign must be written %%%% (pyPLC's configparser refuses it otherwise)", brief(at.raw))
		}
	}
}

// parseBool reads a configparser boolean.
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// unmapped are the pyPLC keys with no ccslink equivalent, and why.
var unmapped = map[string]string{
	"eth_windows_interface_name":                             "ccslink runs on Linux only",
	"display_via_serial":                                     "ccslink drives no display; `ccslink evse` prints one line per plug-in, and the HTTP page shows the car",
	"light_bulb_demo":                                        "a PevMode feature",
	"soc_simulation":                                         "a PevMode feature; `ccslink sim` and `ccslink pev` simulate cars",
	"evse_simulate_precharge":                                "the dc policy always simulates the precharge",
	"digital_output_device":                                  "ccslink switches no CP or relay outputs: the SmartEVSE does",
	"analog_input_device":                                    "ccslink measures no inlet voltage (a PevMode feature)",
	"use_evsepresentvoltage_for_precharge_end":               "a PevMode feature",
	"use_physical_inlet_voltage_during_chargeloop":           "a PevMode feature",
	"u_delta_max_for_end_of_precharge":                       "a PevMode feature",
	"serial_port":                                            "ccslink uses no serial devices",
	"serial_baud":                                            "ccslink uses no serial devices",
	"charge_target_voltage":                                  "a PevMode feature",
	"exit_on_session_end":                                    "ccslink serves plug-in after plug-in and keeps each plug-in's record in state_dir",
	"allow_new_session_after_stopping":                       "ccslink always serves the next plug-in",
	"exit_if_no_local_link_address_is_found":                 "`ccslink doctor` checks the modem's interface and its address",
	"log_the_evse_mac_to_file":                               "a PevMode and ListenMode feature; ccslink keeps each plug-in's record, with the car's MAC, in state_dir",
	"testsuite_enable":                                       "pyPLC's fault-injection tests; ccslink's tests are `go test ./...`",
	"udp_syslog_enable":                                      "ccslink logs to stderr (the journal under systemd); set log.level",
	"charge_parameter_backend":                               "ccslink takes no charge parameters from MQTT or CHAdeMO; it publishes the car's values to mqtt.broker",
	"evsemode_environment":                                   "ccslink supports no special charger hardware",
	"evse_power_supply_control_via_special_homeplug_message": "ccslink controls no power supply",
	"evse_show_decoded_transmit_message":                     "`ccslink evse -v` logs every request and answer; `ccslink decode` decodes a message",
	"sniffer_print_raw_exi":                                  "record with tcpdump and decode with `ccslink decode`",
	"logging_url":                                            "ccslink posts no logs; its HTTP API and MQTT output report each plug-in",
	"smart_listener_configuration":                           "a ListenMode feature",
}

// pyplcKey is the pyPLC key each imported ccslink key comes from.
var pyplcKey = map[string]string{
	"interface":         "eth_interface",
	"emulate_modem":     "is_simulation_without_modems",
	"smartevse.url":     "soc_callback_endpoint",
	"capacity_fallback": "soc_fallback_energy_capacity",
	"mqtt.broker":       "mqtt_broker",
	"mqtt.prefix":       "mqtt_topic",
}

// FromPyPLC converts a pyPLC.ini (the Python tool's configuration, read by
// configparser) into a Config, with a note for every key it read: how it
// was mapped, or why it has no equivalent. A mode other than EvseMode is an
// error wrapping ErrMode: ccslink replaces pyPLC's charger mode only.
func FromPyPLC(data []byte) (Config, []Note, error) {
	f, err := parseINI(data)
	if err != nil {
		return Config{}, nil, err
	}
	if f.sections["general"] == nil {
		return Config{}, nil, Errors{{Line: 1, Column: 1, Msg: "no [general] section: pyPLC reads its keys below a [general] line", Err: ErrSyntax}}
	}
	c := Default()
	var notes []Note
	var l list
	at := map[string]pos{}
	done := map[string]bool{}
	note := func(key, to, format string, args ...any) {
		done[key] = true
		n := Note{Key: key, To: to, Msg: fmt.Sprintf(format, args...)}
		if v := f.lookup(key); v != nil {
			n.Line, n.Value = v.line, v.raw
		}
		notes = append(notes, n)
	}
	value := func(key string) (*iniValue, string, bool) {
		v, s, err := f.get(key)
		if err != nil {
			l.errs = append(l.errs, err.(*Error))
			done[key] = true
			return nil, "", false
		}
		return v, s, v != nil
	}
	boolean := func(key string) (*iniValue, bool, bool) {
		v, s, ok := value(key)
		if !ok {
			return nil, false, false
		}
		b, ok := parseBool(s)
		if !ok {
			done[key] = true
			l.add(v.line, v.col, key, ErrValue, "%q is not a boolean: write yes or no (or true/false, on/off, 1/0)", brief(s))
			return nil, false, false
		}
		return v, b, true
	}

	if v, s, ok := value("mode"); ok {
		switch strings.ToLower(s) {
		case "evsemode":
			note("mode", "policy", "ccslink is the charger, as in EvseMode; policy soc reads the car's SoC as pyPLC did")
		case "pevmode", "listenmode":
			done["mode"] = true
			l.add(v.line, v.col, "mode", ErrMode, "%s is not imported: ccslink replaces pyPLC's charger mode (EvseMode) only; set mode = EvseMode, or keep pyPLC for %s", s, s)
		default:
			done["mode"] = true
			l.add(v.line, v.col, "mode", ErrValue, "%q is not a pyPLC mode: ccslink imports EvseMode only", brief(s))
		}
	} else if !done["mode"] {
		note("mode", "policy", "missing: taken as EvseMode (pyPLC's command line may have set it)")
	}

	if v, s, ok := value("eth_interface"); ok {
		c.Interface = s
		at["interface"] = pos{v.line, v.col}
		note("eth_interface", "interface", "-> interface: %s", s)
	} else if !done["eth_interface"] {
		note("eth_interface", "interface", "missing: interface stays %s", c.Interface)
	}
	if v, b, ok := boolean("is_simulation_without_modems"); ok {
		c.EmulateModem = b
		at["emulate_modem"] = pos{v.line, v.col}
		if b {
			note("is_simulation_without_modems", "emulate_modem", "-> emulate_modem: true (ccslink then answers the modem's messages itself: for a veth pair, never with a real modem)")
		} else {
			note("is_simulation_without_modems", "emulate_modem", "-> emulate_modem: false")
		}
	}

	enabledAt, enabled, haveEnabled := boolean("soc_callback_enabled")
	ev, endpoint, haveEndpoint := value("soc_callback_endpoint")
	switch {
	case done["soc_callback_endpoint"]: // its value is refused already
	case done["soc_callback_enabled"]:
		done["soc_callback_endpoint"] = true // whether it is used is unknown
	case haveEnabled && enabled && !haveEndpoint:
		l.add(enabledAt.line, enabledAt.col, "soc_callback_enabled", ErrValue, "on, but soc_callback_endpoint is missing: add soc_callback_endpoint = http://<smartevse-address>/ev_state")
	case haveEnabled && enabled && endpoint == "":
		done["soc_callback_endpoint"] = true
		l.add(ev.line, ev.col, "soc_callback_endpoint", ErrValue, "empty, but soc_callback_enabled is on: give the SmartEVSE's address, e.g. http://10.0.0.1/ev_state")
	case haveEnabled && enabled:
		note("soc_callback_enabled", "smartevse.url", "on: soc_callback_endpoint becomes smartevse.url")
		c.SmartEVSE.URL = endpoint
		at["smartevse.url"] = pos{ev.line, ev.col}
		note("soc_callback_endpoint", "smartevse.url", "-> smartevse.url: %s (a URL with a path such as /ev_state is used as given, a base URL gets /ev_state appended)", endpoint)
	case haveEnabled:
		note("soc_callback_enabled", "smartevse.url", "off: smartevse.url stays empty, nothing is posted")
		if haveEndpoint {
			note("soc_callback_endpoint", "", "not imported: soc_callback_enabled is off")
		}
	case haveEndpoint:
		note("soc_callback_endpoint", "", "not imported: soc_callback_enabled is missing, which pyPLC takes as an error")
	}
	done["soc_callback_enabled"], done["soc_callback_endpoint"] = true, true // noted or refused

	if v, s, ok := value("soc_fallback_energy_capacity"); ok {
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		switch {
		case err != nil || n > 50000 || n < -50000:
			done["soc_fallback_energy_capacity"] = true
			l.add(v.line, v.col, "soc_fallback_energy_capacity", ErrValue, "%q is not a whole number (pyPLC's unit is 10 Wh: 2700 means 27 kWh)", brief(s))
		case n > 0:
			c.CapacityFallback = []Capacity{{EVCCID: "*", CapacityWh: n * 10}}
			at["capacity_fallback[0].capacity_wh"] = pos{v.line, v.col}
			note("soc_fallback_energy_capacity", "capacity_fallback", "-> capacity_fallback \"*\": %d Wh (pyPLC multiplies the value by 10: %d means %s kWh)", n*10, n, strconv.FormatFloat(float64(n)/100, 'f', -1, 64))
		default:
			note("soc_fallback_energy_capacity", "capacity_fallback", "%d: no fallback capacity, as in pyPLC", n)
		}
	}

	usesMQTT := ""
	for _, k := range []string{"digital_output_device", "analog_input_device", "charge_parameter_backend"} {
		if _, s, ok := value(k); ok && strings.EqualFold(s, "mqtt") {
			usesMQTT = k
			break
		}
	}
	if v, s, ok := value("mqtt_broker"); ok {
		if usesMQTT == "" {
			note("mqtt_broker", "", "not imported: pyPLC connects to it only when digital_output_device, analog_input_device or charge_parameter_backend is mqtt, and none is; set mqtt.broker to publish the car's values")
		} else {
			if !strings.Contains(s, "://") {
				s = "tcp://" + s + ":1883" // pyPLC connects to port 1883
			}
			c.MQTT.Broker = s
			at["mqtt.broker"] = pos{v.line, v.col}
			note("mqtt_broker", "mqtt.broker", "-> mqtt.broker: %s (pyPLC used MQTT, %s = mqtt)", s, usesMQTT)
		}
	}
	if v, s, ok := value("mqtt_topic"); ok {
		if usesMQTT == "" {
			note("mqtt_topic", "", "not imported, as mqtt_broker")
		} else {
			c.MQTT.Prefix = strings.TrimSuffix(s, "/") + "/"
			at["mqtt.prefix"] = pos{v.line, v.col}
			note("mqtt_topic", "mqtt.prefix", "-> mqtt.prefix: %s (ccslink publishes its own topics below it, not pyPLC's)", c.MQTT.Prefix)
		}
	}
	if _, b, ok := boolean("evse_printtrace"); ok {
		if b {
			c.Log.Level = "debug"
		}
		note("evse_printtrace", "log.level", "-> log.level: %s", c.Log.Level)
	}

	for _, section := range f.order {
		for key := range f.sections[section] {
			if section != "general" && section != "DEFAULT" {
				v := f.sections[section][key]
				notes = append(notes, Note{Line: v.line, Key: key, Value: v.raw, Msg: fmt.Sprintf("no equivalent: pyPLC reads [general] only, not [%s]", brief(section))})
				continue
			}
			if done[key] || (section == "DEFAULT" && f.sections["general"][key] != nil) {
				continue
			}
			done[key] = true
			why, known := unmapped[key]
			if !known {
				why = "not a key of pyPLC's template"
			}
			note(key, "", "no equivalent: %s", why)
		}
	}
	slices.SortStableFunc(notes, func(a, b Note) int { return cmp.Or(cmp.Compare(a.Line, b.Line), strings.Compare(a.Key, b.Key)) })

	var v list
	c.check(&v, at)
	for _, e := range v.errs {
		// name the key the user wrote
		e.Key = cmp.Or(pyplcKey[strings.SplitN(e.Key, "[", 2)[0]], e.Key)
	}
	l.errs = append(l.errs, v.errs...)
	if err := l.err(); err != nil {
		slices.SortStableFunc(l.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		return Config{}, notes, err
	}
	return c, notes, nil
}
