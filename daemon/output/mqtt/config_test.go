package mqtt

import (
	"errors"
	"strings"
	"testing"
)

func TestBrokerURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"tcp://10.0.0.2:1883", "tcp://10.0.0.2:1883"},
		{"tcp://broker", "tcp://broker:1883"},
		{"mqtt://broker/", "mqtt://broker:1883"},
		{"mqtt://broker", "mqtt://broker:1883"},
		{"mqtts://broker", "mqtts://broker:8883"},
		{"mqtt://[::1]", "mqtt://[::1]:1883"},
		{"MQTTS://broker", "mqtts://broker:8883"},
		{"ssl://broker:8884", "ssl://broker:8884"},
		{"tls://[fe80::1%25eth0]", "tls://[fe80::1%25eth0]:8883"},
		{"tcp://user:pw@broker", "tcp://user:pw@broker:1883"},
	} {
		u, err := brokerURL(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if u.String() != c.want {
			t.Errorf("%s -> %s, want %s", c.in, u, c.want)
		}
	}
	for _, c := range []struct{ in, reason string }{
		{"", "no broker given"},
		{"broker:1883", "no scheme; use tcp://broker:1883"},
		{"10.0.0.2", "no scheme; use tcp://10.0.0.2"},
		{"http://broker", "scheme http is not supported"},
		{"ws://broker", "scheme ws is not supported"},
		{"tcp://", "no host"},
		{"tcp://broker:", "empty port"},
		{"tcp://broker:0", "port 0 is not a number from 1 to 65535"},
		{"tcp://broker:70000", "port 70000"},
		{"tcp://broker/topic", "no path or query"},
		{"tcp://broker?x=1", "no path or query"},
		{"tcp://a b", "not a URL"},
	} {
		_, err := New(Config{Broker: c.in})
		var ce *ConfigError
		if !errors.Is(err, ErrBrokerURL) || !errors.As(err, &ce) || ce.Field != "Broker" {
			t.Errorf("%q: %v, want an ErrBrokerURL *ConfigError", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.reason) || !strings.HasPrefix(err.Error(), `mqtt: Broker "`+c.in+`": `) {
			t.Errorf("%q: %q does not say %q", c.in, err, c.reason)
		}
	}
}

func TestDefaults(t *testing.T) {
	s, err := Config{Broker: "tcp://b", Name: "pi-garage-eth1"}.settings()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{s.clientID, s.prefix, s.discovery, s.deviceName, s.deviceID, s.retry.String()}
	want := []string{"ccslink-pi-garage-eth1", "ccslink/pi-garage-eth1/", "homeassistant", "ccslink pi-garage-eth1", "ccslink_pi-garage-eth1", "10s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("defaults %q, want %q", got, want)
	}
	s, err = Config{Broker: "tcp://b", Name: "eth1.5", Prefix: "home/car", DiscoveryPrefix: "ha/", NoDiscovery: false}.settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != "home/car/" || s.discovery != "ha" || s.deviceID != "ccslink_eth1_5" {
		t.Errorf("prefix %q, discovery %q, device ID %q", s.prefix, s.discovery, s.deviceID)
	}
	s, _ = Config{Broker: "tcp://b", NoDiscovery: true}.settings()
	if s.discovery != "" || s.prefix != "ccslink/" || s.clientID != "ccslink" {
		t.Errorf("no interface: discovery %q, prefix %q, client ID %q", s.discovery, s.prefix, s.clientID)
	}
	for _, c := range []Config{
		{Broker: "tcp://b", Prefix: "car/#"},
		{Broker: "tcp://b", Prefix: "car/+/x"},
		{Broker: "tcp://b", Prefix: "$SYS/x"},
		{Broker: "tcp://b", Prefix: "/"},
		{Broker: "tcp://b", Prefix: "a\x00b"},
		{Broker: "tcp://b", Prefix: "\xff"},
		{Broker: "tcp://b", DiscoveryPrefix: "ha/#"},
		{Broker: "tcp://b", DeviceID: "my car"},
	} {
		_, err := c.settings()
		var ce *ConfigError
		if !errors.Is(err, ErrTopic) || !errors.As(err, &ce) {
			t.Errorf("%+v: %v, want an ErrTopic *ConfigError", c, err)
		}
	}
}

// FuzzBrokerURL: any string is a URL with a port the client can dial, or a *ConfigError.
func FuzzBrokerURL(f *testing.F) {
	for _, s := range []string{"tcp://10.0.0.2:1883", "mqtts://broker", "tls://[fe80::1%25eth0]", "broker:1883", "", "tcp://b:0", "tcp://u:p@b/x?y#z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := brokerURL(s)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBrokerURL) {
				t.Fatalf("%q: untyped error %v", s, err)
			}
			return
		}
		if u.Hostname() == "" || !isPort(u.Port()) {
			t.Fatalf("%q accepted as %s without host or port", s, u)
		}
		if _, err := brokerURL(u.String()); err != nil {
			t.Fatalf("%q -> %s, which is refused: %v", s, u, err)
		}
	})
}

// FuzzPrefix: a topic prefix is accepted with its final slash, free of wildcards, or refused.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"ccslink/eth1/", "home/car", "a/#", "$SYS", "/", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := topicPrefix("Prefix", s)
		if err != nil {
			if !errors.Is(err, ErrTopic) {
				t.Fatalf("%q: untyped error %v", s, err)
			}
			return
		}
		if !strings.HasSuffix(p, "/") || strings.ContainsAny(p, "+#\x00") || !strings.HasPrefix(p, s) {
			t.Fatalf("%q accepted as %q", s, p)
		}
	})
}
