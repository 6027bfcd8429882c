package mqtt

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ccslink/ccslink/clock"
)

// Defaults of a Config's zero values.
const (
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultRetryInterval   = 10 * time.Second
	// DefaultUpdateInterval is how often a value a charge loop changes is
	// published at most: once a second, as a real car loops, so a car
	// that loops as fast as TCP allows cannot flood the broker and every
	// client of it.
	DefaultUpdateInterval = time.Second
	// CloseTimeout bounds how long Close waits for the broker to take the offline status.
	CloseTimeout = 2 * time.Second
)

// Config configures an Output; only Broker is required.
type Config struct {
	// Broker is the broker's URL: tcp://host:1883 (or mqtt://), and for
	// TLS ssl://, tls:// or mqtts://host:8883. Without a port, 1883 or 8883.
	Broker string
	// Name is the daemon's name, unique among the daemons on one broker
	// (such as pi-garage-eth1); it names the defaults below.
	Name string
	// Version is the daemon's version, shown in Home Assistant; empty leaves it out.
	Version string
	// ClientID is the MQTT client ID; empty means ccslink-<Name>. Two
	// clients with one ID on a broker take the connection from each other.
	ClientID string
	// Username and Password, if set, log in to the broker; a user and
	// password in Broker's URL take their place.
	Username, Password string
	// TLS configures a TLS broker; nil means the system's roots.
	TLS *tls.Config
	// Prefix starts every topic; empty means ccslink/<Name>/. A
	// missing final slash is added.
	Prefix string
	// NoDiscovery leaves the Home Assistant discovery configs out.
	NoDiscovery bool
	// DiscoveryPrefix is Home Assistant's discovery prefix; empty means "homeassistant".
	DiscoveryPrefix string
	// DeviceName is the device's name in Home Assistant; empty means "ccslink <Name>".
	DeviceName string
	// DeviceID identifies the device in Home Assistant, starts every
	// unique_id and names the discovery topics; empty means ccslink_<Name>.
	DeviceID string
	// RetryInterval is the longest wait between connection attempts; zero means DefaultRetryInterval.
	RetryInterval time.Duration
	// UpdateInterval bounds how often a topic the car's charge loop
	// changes (soc, full_soc, energy_capacity, energy_request,
	// soc_timestamp, soc_estimated, soc_estimated_basis, session) is
	// published: at most once per interval, the newest then. Any other
	// event of the plug-in (its start and end above all) publishes at
	// once what is held. Zero means DefaultUpdateInterval; a negative one
	// means no bound.
	UpdateInterval time.Duration
	// Clock times UpdateInterval; nil means clock.Real.
	Clock clock.Clock
	// Log receives the connection's ups and downs; nil means slog.Default().
	Log *slog.Logger

	now func() time.Time // nil means time.Now; tests stop the clock
}

// Errors of a Config that New refuses; they come wrapped in a *ConfigError.
var (
	// ErrBrokerURL means the broker's URL is not one the client can connect to.
	ErrBrokerURL = errors.New("mqtt: bad broker URL")
	// ErrTopic means the topic prefix or the discovery prefix is not a valid topic.
	ErrTopic = errors.New("mqtt: bad topic prefix")
)

// ConfigError is a Config that New refuses.
type ConfigError struct {
	Field  string // "Broker", "Prefix", "DiscoveryPrefix", "DeviceID"
	Value  string
	Reason string // in plain words, with what to do
	Err    error  // ErrBrokerURL or ErrTopic
}

func (e *ConfigError) Error() string {
	return "mqtt: " + e.Field + " " + quote(e.Value) + ": " + e.Reason
}

// Unwrap returns ErrBrokerURL or ErrTopic.
func (e *ConfigError) Unwrap() error { return e.Err }

func quote(s string) string { return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\"" }

// brokerURL checks a broker's URL and fills in the default port.
func brokerURL(raw string) (*url.URL, error) {
	bad := func(reason string) error {
		return &ConfigError{Field: "Broker", Value: raw, Err: ErrBrokerURL, Reason: reason}
	}
	if strings.TrimSpace(raw) == "" {
		return nil, bad("no broker given; use tcp://host:1883, or mqtts://host:8883 for TLS")
	}
	if !strings.Contains(raw, "://") {
		return nil, bad("no scheme; use tcp://" + raw + ", or mqtts:// for TLS")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return nil, bad("not a URL; use tcp://host:1883, or mqtts://host:8883 for TLS")
	}
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		port = "1883"
	case "ssl", "tls", "mqtts":
		port = "8883"
	default:
		return nil, bad("scheme " + u.Scheme + " is not supported; use tcp://, mqtt://, or ssl://, tls://, mqtts:// for TLS")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Hostname() == "" {
		return nil, bad("no host; use tcp://host:1883")
	}
	if !utf8.ValidString(raw) || strings.ContainsFunc(u.Host, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, bad("the host is not printable text")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, bad("a broker URL has no path or query; use tcp://host:1883")
	}
	if u.Port() == "" {
		if strings.HasSuffix(u.Host, ":") {
			return nil, bad("empty port; use tcp://host:1883")
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	} else if !isPort(u.Port()) {
		return nil, bad("port " + u.Port() + " is not a number from 1 to 65535")
	}
	u.Path = ""
	return u, nil
}

func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

// topicPrefix checks a topic prefix; a valid one gets its final slash.
func topicPrefix(field, p string) (string, error) {
	bad := func(reason string) error {
		return &ConfigError{Field: field, Value: p, Err: ErrTopic, Reason: reason}
	}
	switch {
	case strings.ContainsAny(p, "+#"):
		return "", bad("a topic must not hold the wildcards + or #")
	case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return "", bad("a topic must be UTF-8 text without NUL")
	case strings.HasPrefix(p, "$"):
		return "", bad("topics starting with $ belong to the broker")
	case strings.Trim(p, "/") == "":
		return "", bad("empty; leave it unset for the default")
	case len(p) > 1024:
		return "", bad("longer than 1024 bytes")
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p, nil
}

// nodeID makes s usable as Home Assistant's node and object IDs: letters,
// digits, _ and -.
func nodeID(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// settings are a Config checked, with its defaults filled in.
type settings struct {
	broker                       *url.URL
	clientID, username, password string
	tls                          *tls.Config
	prefix, discovery            string // discovery is "" without discovery
	deviceName, deviceID         string
	version                      string
	retry                        time.Duration
	interval                     time.Duration // 0: no bound
	clk                          clock.Clock
	log                          *slog.Logger
	now                          func() time.Time
}

func (c Config) settings() (settings, error) {
	var s settings
	var err error
	if s.broker, err = brokerURL(c.Broker); err != nil {
		return s, err
	}
	name := c.Name
	s.clientID = c.ClientID
	if s.clientID == "" {
		s.clientID = join("ccslink", "-", name)
	}
	s.username, s.password, s.tls = c.Username, c.Password, c.TLS
	p := c.Prefix
	if p == "" {
		p = join("ccslink", "/", name) + "/"
	}
	if s.prefix, err = topicPrefix("Prefix", p); err != nil {
		return s, err
	}
	if !c.NoDiscovery {
		d := c.DiscoveryPrefix
		if d == "" {
			d = DefaultDiscoveryPrefix
		}
		if d, err = topicPrefix("DiscoveryPrefix", d); err != nil {
			return s, err
		}
		s.discovery = strings.TrimSuffix(d, "/")
	}
	s.deviceName = c.DeviceName
	if s.deviceName == "" {
		s.deviceName = join("ccslink", " ", name)
	}
	s.deviceID = c.DeviceID
	if s.deviceID == "" {
		s.deviceID = join("ccslink", "_", name)
	}
	if nodeID(s.deviceID) != s.deviceID && c.DeviceID != "" {
		return s, &ConfigError{Field: "DeviceID", Value: c.DeviceID, Err: ErrTopic,
			Reason: "Home Assistant takes only letters, digits, _ and - in a node ID"}
	}
	s.deviceID = nodeID(s.deviceID)
	s.version = c.Version
	s.retry = c.RetryInterval
	if s.retry <= 0 {
		s.retry = DefaultRetryInterval
	}
	switch {
	case c.UpdateInterval == 0:
		s.interval = DefaultUpdateInterval
	case c.UpdateInterval > 0:
		s.interval = c.UpdateInterval
	}
	s.clk = c.Clock
	if s.clk == nil {
		s.clk = clock.Real{}
	}
	s.log = c.Log
	if s.log == nil {
		s.log = slog.Default()
	}
	s.now = c.now
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func join(a, sep, b string) string {
	if b == "" {
		return a
	}
	return a + sep + b
}
