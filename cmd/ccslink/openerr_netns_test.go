package main

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
)

// TestOpenInterfaceErrors: every command that opens the modem's interface
// says what to do when it cannot, as nobody without CAP_NET_RAW and with an
// interface that is not there, and exits 1.
func TestOpenInterfaceErrors(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE)
	_, bin, setpriv := binaryForNobody(t)
	nobody := []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin}
	const noCaps = "opening evse0 needs CAP_NET_RAW: run as root, or once `sudo setcap cap_net_raw,cap_net_admin+ep $(command -v ccslink)`, or run it as the systemd unit does (AmbientCapabilities): socket: operation not permitted\n"
	for _, c := range []struct {
		name   string
		argv   []string
		stderr string
	}{
		{"slac evse as nobody", append(nobody, "slac", "--iface", "evse0", "--timeout", "2s"), "ccslink slac: " + noCaps},
		{"slac pev as nobody", append(nobody, "slac", "--iface", "evse0", "--role", "pev", "--timeout", "2s"), "ccslink slac: " + noCaps},
		{"pev as nobody", append(nobody, "pev", "--iface", "evse0", "--timeout", "2s"), "ccslink pev: " + noCaps},
		{"slac, no interface", []string{bin, "slac", "--iface", "nosuch0", "--timeout", "2s"}, "ccslink slac: no interface nosuch0; there are: lo, evse0\n"},
		{"slac --json, no interface", []string{bin, "slac", "--iface", "nosuch0", "--json", "--timeout", "2s"}, "ccslink slac: no interface nosuch0; there are: lo, evse0\n"},
		{"pev, no interface", []string{bin, "pev", "--iface", "nosuch0", "--timeout", "2s"}, "ccslink pev: no interface nosuch0; there are: lo, evse0\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := nsE.Command(ctx, c.argv[0], c.argv[1:]...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
			}
			got := errb.String()
			if got != c.stderr {
				t.Fatalf("stderr %q, want %q", got, c.stderr)
			}
		})
	}
}
