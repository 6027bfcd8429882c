package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestMissingFlagWords: a command missing what it needs says what, in one
// line, and exits with the usage error's status.
func TestMissingFlagWords(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"pev"}, "ccslink pev: --iface is missing: give the network interface of the car's modem, e.g. --iface eth1 (with --emulate-modem, one end of a veth pair)\n"},
		{[]string{"pev", "--car", "ioniq", "eth1"}, "ccslink pev: unexpected argument \"eth1\"\n"},
		{[]string{"pev", "--iface", "eth1", "--car", "zoe"}, "ccslink pev: --car zoe: this car never starts SLAC (never-slac), so there is nothing for pev to send; ccslink sim --car zoe shows what it does\n"},
		{[]string{"slac"}, "ccslink slac: --iface is missing: give the network interface of the HomePlug modem, e.g. --iface eth1\n"},
		{[]string{"slac", "--iface", "eth1", "--role", "car"}, "ccslink slac: --role \"car\": give evse (wait for a car) or pev (match as the car)\n"},
		{[]string{"slac", "--iface", "eth1", "extra"}, "ccslink slac: unexpected argument \"extra\"\n"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, nil, &out, &errb)
		if code != 2 || out.Len() != 0 || errb.String() != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out.String(), errb.String(), c.stderr)
		}
	}
}

// TestNotEthernetWords: a command given the loopback (or any interface
// without an Ethernet address) says so and what to give instead.
func TestNotEthernetWords(t *testing.T) {
	for _, cmd := range []string{"slac", "pev"} {
		var out, errb bytes.Buffer
		if code := run([]string{cmd, "--iface", "lo"}, nil, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", cmd, code, errb.String())
		}
		want := "ccslink " + cmd + ": lo is not an Ethernet interface: give the modem's with --iface (there are: "
		if !strings.HasPrefix(errb.String(), want) {
			t.Errorf("%s said %q, want it to start with %q", cmd, errb.String(), want)
		}
	}
}
