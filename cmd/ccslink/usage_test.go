package main

import (
	"bytes"
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
