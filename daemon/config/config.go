// Package config reads ccslink's configuration: one YAML file (by default
// /etc/ccslink/ccslink.yaml), or the pyPLC.ini of the Python tool it replaces.
//
// Every key has a default, so an empty file is a valid configuration.
// Unknown keys, wrong types and wrong values are errors that name the file,
// line and column.
package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// DefaultPath is where the daemon looks for its configuration.
const DefaultPath = "/etc/ccslink/ccslink.yaml"

// maxFileSize bounds what Load reads: a configuration is a few kilobytes.
const maxFileSize = 1 << 20

// Config is the daemon's configuration.
type Config struct {
	Name             string // the daemon's name on the broker and in Home Assistant; "" = DefaultName
	Interface        string // the modem's network interface
	Policy           string // soc, dc or ac
	EVSEID           string // the charger's EVSEID; "" = the charger's built-in one
	EmulateModem     bool   // answer the modem's messages in software (veth pairs)
	V2GPort          int    // TCP port of the V2G server; 0 = any free port
	V2G              V2G
	SLAC             SLAC
	SmartEVSE        SmartEVSE
	MQTT             MQTT
	HTTP             HTTP
	StateDir         string // where records are kept
	Recordings       Recordings
	Sessions         Sessions
	CapacityFallback []Capacity // battery capacity for cars that send none
	Cars             []Car      // the owner's cars, recognised by their MACs
	Log              Log
}

// V2G configures the protocols the charger serves.
type V2G struct {
	// ISO20 serves ISO 15118-20 AC (EIM) to a car that offers it, ranked
	// below DIN and ISO-2 (a car offering -20 today offers -2 or DIN too).
	ISO20 bool
	// ISO20First ranks ISO 15118-20 ahead of DIN and ISO-2; it implies ISO20.
	ISO20First bool
}

// SLAC configures the matching of cars.
type SLAC struct {
	// InitTimeout is how long a car known to be plugged in has to send its
	// first CM_SLAC_PARM.REQ after the charger's 5 % PWM began before it
	// is reported as a car that does not talk (TT_EVSE_SLAC_init).
	InitTimeout time.Duration
}

// The bounds of slac.init_timeout: ISO 15118-3's TT_EVSE_SLAC_init is
// 20-50 s, its default the longest; Tinkerforge's WARP gives cars 10 s.
// Beyond 50 s a SmartEVSE (60 s) has given up before anyone hears of it.
const (
	SLACInitDefault = 50 * time.Second
	SLACInitFast    = 10 * time.Second
)

// SmartEVSE configures the delivery of the car's values to a SmartEVSE.
type SmartEVSE struct {
	URL     string        // base URL (/ev_state appended) or full URL; "" = none
	Timeout time.Duration // for one attempt
	Window  time.Duration // how long a delivery keeps trying, from the car's first values
	// VehicleID sends the recognised car's stable ID as evccid, in place of
	// the EVCCID of the session: the SmartEVSE's required EVCCID then
	// works for a car whose MAC changes.
	VehicleID bool
	// Watch is how long the SmartEVSE is watched after a delivery for AC
	// charging (GET /settings); 0 = not watched, for a charger without that API.
	Watch time.Duration
	// WritePWM allows the x1-then-pwm handover strategy, which writes
	// override_pwm to the SmartEVSE (POST /settings) after a delivery.
	WritePWM bool
	// Follow, while Watch is on, reads GET /settings once a second all the
	// time: a car plugged in (MODEM_WAIT) or gone (A), and the EV meter's
	// energy for the SoC estimated between reads.
	Follow bool
	// ChargeEfficiency is the share of the energy metered on AC that
	// reaches the battery, for the SoC estimate.
	ChargeEfficiency float64
	// UpdateInterval bounds how often a plug-in's later changes are posted
	// (the first SoC goes at once); 0 = every change as soon as the last
	// POST is done.
	UpdateInterval time.Duration
}

// The defaults of the outputs' update intervals: an ISO 15118-20 car may
// send a new SoC in every charge loop, as fast as TCP allows, while the SoC
// of an AC charge moves 1 % in minutes. The SmartEVSE's ESP32 serves one
// request at a time; a broker, Home Assistant and a page take one a second.
const (
	SmartEVSEUpdateDefault = 5 * time.Second
	MQTTUpdateDefault      = time.Second
	HTTPUpdateDefault      = time.Second
	// MaxUpdateInterval is the longest an update interval may be.
	MaxUpdateInterval = 10 * time.Minute
)

// DefaultChargeEfficiency is smartevse.charge_efficiency's default: an
// on-board charger and the battery's heat lose about a tenth on AC.
const DefaultChargeEfficiency = 0.9

// MQTT configures the MQTT output.
type MQTT struct {
	Broker          string // e.g. tcp://host:1883; "" = none
	Prefix          string // topic prefix, ending in "/"; "" = ccslink/<name>/
	ClientID        string // "" = ccslink-<name>
	Username        string
	Password        string // secret
	HomeAssistant   bool   // publish Home Assistant discovery messages
	DiscoveryPrefix string // Home Assistant's discovery prefix
	// UpdateInterval bounds how often a topic the charge loop changes (the
	// SoC, its time, the record) is published; 0 = every change.
	UpdateInterval time.Duration
}

// HTTP configures the HTTP API and page.
type HTTP struct {
	Listen string // host:port; "" = off
	Token  string // secret bearer token; required off loopback
	// UpdateInterval bounds how often /api/events repeats a charge loop's
	// events; 0 = every event.
	UpdateInterval time.Duration
}

// Recordings configures the kept packet recordings.
type Recordings struct {
	Keep int // how many to keep
}

// Sessions configures the kept plug-in records.
type Sessions struct {
	Keep int // how many to keep
}

// Capacity is the battery capacity assumed for a car that sends no EVEnergyCapacity.
type Capacity struct {
	EVCCID     string // lower-case hex, or "*" for any car
	CapacityWh int
}

// Log configures the daemon's log.
type Log struct {
	Level string // debug, info, warn or error
}

// Default returns the configuration of an empty file.
func Default() Config {
	return Config{
		Interface: "eth1",
		Policy:    "soc",
		SLAC:      SLAC{InitTimeout: SLACInitDefault},
		SmartEVSE: SmartEVSE{Timeout: 2 * time.Second, Window: time.Minute, Watch: time.Minute, Follow: true, ChargeEfficiency: DefaultChargeEfficiency,
			UpdateInterval: SmartEVSEUpdateDefault},
		MQTT:       MQTT{HomeAssistant: true, DiscoveryPrefix: "homeassistant", UpdateInterval: MQTTUpdateDefault},
		HTTP:       HTTP{UpdateInterval: HTTPUpdateDefault},
		StateDir:   "/var/lib/ccslink",
		Recordings: Recordings{Keep: 20},
		Sessions:   Sessions{Keep: 100},
		Log:        Log{Level: "info"},
	}
}

// DefaultName is the name of a daemon whose configuration gives none: the
// host's name and the interface, such as pi-garage-eth1, made a valid name.
// Every Pi's modem is eth1: the host name tells two Pis on one broker apart.
func DefaultName(host, iface string) string {
	host, _, _ = strings.Cut(host, ".") // the host, not its domain
	n := SanitizeName(host + "-" + iface)
	if n == "" {
		return "ccslink"
	}
	return n
}

// SanitizeName makes s a valid name: lower case; every run of other
// characters than letters, digits, '-' and '_' becomes one '-'; no '-' or
// '_' at either end; at most 64 bytes.
func SanitizeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	n := b.String()
	if len(n) > 64 {
		n = n[:64]
	}
	return strings.Trim(n, "-_")
}

// ValidName reports whether s may be a daemon's name: what MQTT topics and
// Home Assistant's unique IDs take (lower-case letters, digits, '-', '_'), 1 to 64 bytes.
func ValidName(s string) bool {
	return s != "" && SanitizeName(s) == s
}

// InstanceName returns the daemon's name: Name, or else DefaultName of the host.
func (c Config) InstanceName(host string) string {
	if c.Name != "" {
		return c.Name
	}
	return DefaultName(host, c.Interface)
}

// Load reads the configuration file at path: YAML, or a pyPLC.ini when its
// name ends in .ini or its content looks like one.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &Error{File: path, Msg: fmt.Sprintf("cannot read the configuration (%v); write one with: ccslink config example > %s", err, path), Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return Config{}, &Error{File: path, Msg: fmt.Sprintf("cannot read the configuration: %v", err), Err: err}
	}
	if len(data) > maxFileSize {
		return Config{}, &Error{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes: is it the right file?", maxFileSize), Err: ErrValue}
	}
	return Parse(path, data)
}

// Parse parses data as the configuration file name: YAML, or a pyPLC.ini
// when name ends in .ini or data looks like one (its notes are dropped:
// FromPyPLC returns them). The result is validated.
func Parse(name string, data []byte) (Config, error) {
	if IsINI(name, data) {
		c, _, err := FromPyPLC(data)
		return c, withFile(err, name)
	}
	c, err := parseYAML(data)
	return c, withFile(err, name)
}

// IsINI reports whether Parse reads data as a pyPLC.ini: the name ends in
// .ini, or the first line that is not blank or a comment is a [section].
func IsINI(name string, data []byte) bool {
	if strings.HasSuffix(strings.ToLower(name), ".ini") {
		return true
	}
	for line := range bytes.Lines(data) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
			return false
		}
		for _, r := range s[1 : len(s)-1] {
			if !(r == '_' || r == '-' || r == '.' || r == ' ' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
		return true
	}
	return false
}

// Capacity returns the fallback battery capacity for the car with this
// EVCCID (hex, any case): its own entry, else the "*" entry.
func (c Config) Capacity(evccid string) (wh int, ok bool) {
	evccid = strings.ToLower(evccid)
	star := -1
	for i, e := range c.CapacityFallback {
		if e.EVCCID == "*" {
			star = i
		} else if evccid != "" && e.EVCCID == evccid {
			return e.CapacityWh, true
		}
	}
	if star >= 0 {
		return c.CapacityFallback[star].CapacityWh, true
	}
	return 0, false
}

// RedactedValue is the text that replaces a secret in Config.Redacted.
const RedactedValue = "<redacted>"

// Redacted returns c with its secrets (passwords, tokens, passwords in URLs)
// replaced by "<redacted>", to be shown in a bug report.
func (c Config) Redacted() Config {
	c.CapacityFallback = append([]Capacity(nil), c.CapacityFallback...)
	c.Cars = append([]Car(nil), c.Cars...)
	if c.MQTT.Password != "" {
		c.MQTT.Password = RedactedValue
	}
	if c.HTTP.Token != "" {
		c.HTTP.Token = RedactedValue
	}
	c.MQTT.Broker = redactURL(c.MQTT.Broker)
	c.SmartEVSE.URL = redactURL(c.SmartEVSE.URL)
	return c
}

// redactURL hides the user information of a URL (scheme://user:pass@host).
func redactURL(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	return s[:i+3] + RedactedValue + rest[at:]
}
