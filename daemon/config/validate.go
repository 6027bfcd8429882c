package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validate checks every value of c; its errors carry no line (c came from
// no file), Parse and Load check with the file's lines.
func (c Config) Validate() error {
	var l list
	c.check(&l, nil)
	return l.err()
}

// pos is where a key's value sits in the file.
type pos struct{ line, col int }

// check adds an error for every wrong value, at the key's position in at
// (when known).
func (c Config) check(l *list, at map[string]pos) {
	bad := func(key, format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = brief(s)
			}
		}
		p := at[key]
		l.add(p.line, p.col, key, ErrValue, format, args...)
	}
	text := func(key, v string) bool {
		if !utf8.ValidString(v) {
			bad(key, "%q is not valid UTF-8", v)
			return false
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				bad(key, "%q holds a control character", v)
				return false
			}
		}
		return true
	}

	if text("name", c.Name) && c.Name != "" && !ValidName(c.Name) {
		if n := SanitizeName(c.Name); n != "" {
			bad("name", "%q is not a name for MQTT topics and Home Assistant: use lower-case letters, digits, '-' and '_' (at most 64), e.g. %q", c.Name, n)
		} else {
			bad("name", "%q is not a name for MQTT topics and Home Assistant: use lower-case letters, digits, '-' and '_' (at most 64), e.g. pi-garage", c.Name)
		}
	}
	if text("interface", c.Interface) {
		switch {
		case c.Interface == "":
			bad("interface", "empty: name the modem's network interface, e.g. eth1 (see `ip link`)")
		case len(c.Interface) > 15 || strings.ContainsAny(c.Interface, "/ :") || c.Interface == "." || c.Interface == "..":
			bad("interface", "%q is not a network interface name (at most 15 characters, no '/', ':' or space; see `ip link`)", c.Interface)
		}
	}
	switch c.Policy {
	case "soc", "dc", "ac":
	default:
		bad("policy", "%q is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)", c.Policy)
	}
	if text("evse_id", c.EVSEID) {
		if len(c.EVSEID) > 37 || strings.ContainsFunc(c.EVSEID, func(r rune) bool { return r <= ' ' || r > '~' }) {
			bad("evse_id", "%q is not an EVSEID: at most 37 printable ASCII characters without spaces, e.g. DE*ABC*E1234", c.EVSEID)
		}
	}
	if c.V2GPort < 0 || c.V2GPort > 65535 {
		bad("v2g_port", "%d is not a TCP port: use 1 to 65535, or 0 for any free port", c.V2GPort)
	}

	if text("smartevse.url", c.SmartEVSE.URL) && c.SmartEVSE.URL != "" {
		if u, err := url.Parse(c.SmartEVSE.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("smartevse.url", "%q is not an http:// or https:// URL: give the SmartEVSE's address, e.g. http://10.0.0.1", c.SmartEVSE.URL)
		} else if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			bad("smartevse.url", "%q carries a query or fragment, which the values sent replace: leave out what follows '?' or '#'", c.SmartEVSE.URL)
		}
	}
	if c.SLAC.InitTimeout < SLACInitFast || c.SLAC.InitTimeout > SLACInitDefault {
		bad("slac.init_timeout", "%v is out of range: use 10s (report a car that never talks soon) to 50s (ISO 15118-3's TT_EVSE_SLAC_init)", c.SLAC.InitTimeout)
	}
	if c.SmartEVSE.Timeout <= 0 || c.SmartEVSE.Timeout > time.Minute {
		bad("smartevse.timeout", "%v is out of range: use more than 0s and at most 1m (the SmartEVSE waits 60 s for the SoC)", c.SmartEVSE.Timeout)
	}
	if c.SmartEVSE.Window <= 0 || c.SmartEVSE.Window > 10*time.Minute {
		bad("smartevse.window", "%v is out of range: use more than 0s and at most 10m (the SmartEVSE waits 60 s for the SoC, so 1m is right for most)", c.SmartEVSE.Window)
	}
	if c.SmartEVSE.Watch != 0 && (c.SmartEVSE.Watch < 10*time.Second || c.SmartEVSE.Watch > 10*time.Minute) {
		bad("smartevse.watch", "%v is out of range: use 0s (not watched) or 10s to 10m (the SmartEVSE cuts CP for 5 s after the SoC, then the car takes a few seconds to draw current, so 1m is right for most)", c.SmartEVSE.Watch)
	}
	interval := func(key string, d time.Duration, why string) {
		switch {
		case d < 0:
			bad(key, "%v is negative: use 0s (every change sent as it comes) or a duration such as %s", d, why)
		case d > MaxUpdateInterval:
			bad(key, "%v is out of range: use 0s (every change sent as it comes) to %v, such as %s", d, MaxUpdateInterval, why)
		}
	}
	interval("smartevse.update_interval", c.SmartEVSE.UpdateInterval, "5s (the SoC of an AC charge moves 1 % in minutes)")
	interval("mqtt.update_interval", c.MQTT.UpdateInterval, "1s")
	interval("http.update_interval", c.HTTP.UpdateInterval, "1s")
	if !(c.SmartEVSE.ChargeEfficiency >= 0.5 && c.SmartEVSE.ChargeEfficiency <= 1) {
		bad("smartevse.charge_efficiency", "%v is out of range: use 0.5 to 1, the share of the energy metered that reaches the battery (0.9 for most cars on AC)", c.SmartEVSE.ChargeEfficiency)
	}

	if text("mqtt.broker", c.MQTT.Broker) && c.MQTT.Broker != "" {
		u, err := url.Parse(c.MQTT.Broker)
		switch {
		case err != nil || u.Hostname() == "" || !mqttScheme(u.Scheme):
			bad("mqtt.broker", "%q is not a broker URL: write scheme://host:port, e.g. tcp://192.168.1.2:1883 (schemes tcp and mqtt, port 1883 when none is given; for TLS ssl, tls and mqtts, port 8883)", c.MQTT.Broker)
		case u.Port() == "" && strings.HasSuffix(u.Host, ":"):
			bad("mqtt.broker", "%q has an empty port: give it, or leave out the ':' for the default (1883, 8883 for TLS)", c.MQTT.Broker)
		}
	}
	if text("mqtt.prefix", c.MQTT.Prefix) && c.MQTT.Prefix != "" {
		switch {
		case !strings.HasSuffix(c.MQTT.Prefix, "/"):
			bad("mqtt.prefix", "%q must end in '/', e.g. %q", c.MQTT.Prefix, c.MQTT.Prefix+"/")
		case strings.ContainsAny(c.MQTT.Prefix, "+#"):
			bad("mqtt.prefix", "%q holds an MQTT wildcard ('+' or '#'), which a topic cannot", c.MQTT.Prefix)
		}
	}
	if text("mqtt.client_id", c.MQTT.ClientID) && (len(c.MQTT.ClientID) > 128 || strings.ContainsFunc(c.MQTT.ClientID, func(r rune) bool { return r <= ' ' || r > '~' })) {
		bad("mqtt.client_id", "%q is not a client ID: at most 128 printable ASCII characters without spaces, e.g. ccslink-garage", c.MQTT.ClientID)
	}
	if text("mqtt.discovery_prefix", c.MQTT.DiscoveryPrefix) {
		d := c.MQTT.DiscoveryPrefix
		switch {
		case strings.Trim(d, "/") == "":
			bad("mqtt.discovery_prefix", "empty: leave the key out for Home Assistant's default, homeassistant")
		case strings.ContainsAny(d, "+#"):
			bad("mqtt.discovery_prefix", "%q holds an MQTT wildcard ('+' or '#'), which a topic cannot", d)
		case strings.HasPrefix(d, "$"):
			bad("mqtt.discovery_prefix", "%q starts with '$', which marks the broker's own topics", d)
		}
	}
	text("mqtt.username", c.MQTT.Username)
	text("mqtt.password", c.MQTT.Password)

	if text("http.listen", c.HTTP.Listen) && c.HTTP.Listen != "" {
		host, port, err := net.SplitHostPort(c.HTTP.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil || n < 0 || n > 65535:
			bad("http.listen", "%q is not host:port, e.g. 127.0.0.1:8080 (or :8080 for every address)", c.HTTP.Listen)
		case !loopback(host) && c.HTTP.Token == "":
			bad("http.listen", "%q is reachable from the network: set http.token (e.g. the output of `openssl rand -hex 16`) or listen on 127.0.0.1", c.HTTP.Listen)
		}
	}
	if text("http.token", c.HTTP.Token) && c.HTTP.Token != "" && len(c.HTTP.Token) < 16 {
		bad("http.token", "too short (%d characters): use at least 16, e.g. the output of `openssl rand -hex 16`", len(c.HTTP.Token))
	}

	if text("state_dir", c.StateDir) && (!path.IsAbs(c.StateDir) || c.StateDir == "/") {
		bad("state_dir", "%q is not an absolute directory below /, e.g. /var/lib/ccslink", c.StateDir)
	}
	if c.Recordings.Keep < 0 || c.Recordings.Keep > 100000 {
		bad("recordings.keep", "%d is out of range: keep 0 to 100000 recordings", c.Recordings.Keep)
	}
	if c.Sessions.Keep < 0 || c.Sessions.Keep > 100000 {
		bad("sessions.keep", "%d is out of range: keep 0 to 100000 plug-in records", c.Sessions.Keep)
	}

	seen := map[string]int{}
	for i, e := range c.CapacityFallback {
		key := fmt.Sprintf("capacity_fallback[%d]", i)
		if e.EVCCID != "*" && !evccid(e.EVCCID) {
			bad(key+".evccid", "%q is not an EVCCID: 2 to 16 hex digits (as `ccslink evse` prints it, e.g. 0465650064c3), or \"*\" for any car", e.EVCCID)
		} else if j, dup := seen[e.EVCCID]; dup {
			bad(key+".evccid", "%q is already given in capacity_fallback[%d]", e.EVCCID, j)
		} else {
			seen[e.EVCCID] = i
		}
		if e.CapacityWh < 1000 || e.CapacityWh > 500000 {
			bad(key+".capacity_wh", "%d Wh is not a battery capacity: give it in Wh, from 1000 to 500000 (28 kWh is 28000)", e.CapacityWh)
		}
	}

	c.checkCars(bad, text)

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not a log level: use debug, info, warn or error", c.Log.Level)
	}
}

func mqttScheme(s string) bool {
	switch s {
	case "tcp", "ssl", "tls", "mqtt", "mqtts":
		return true
	}
	return false
}

// loopback reports whether a listen host reaches only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// evccid reports whether s is an EVCCID as the record writes it: lower-case hex bytes.
func evccid(s string) bool {
	if len(s) < 2 || len(s) > 16 || len(s)%2 != 0 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
