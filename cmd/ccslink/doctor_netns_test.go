package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/tools/doctor"
	"github.com/ccslink/ccslink/tools/modemsim"
)

type doctorReport struct {
	OK     bool           `json:"ok"`
	Checks []doctor.Check `json:"checks"`
}

// runDoctorIn runs the built command's doctor in ns with args before it.
func runDoctorIn(t *testing.T, ns *netnstest.Namespace, prefix []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append(prefix[1:], append([]string{"doctor", "--config", "/dev/null", "--iface", ns.Iface}, args...)...)
	cmd := ns.Command(ctx, prefix[0], argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if errb.Len() > 0 {
		t.Errorf("stderr: %s", errb.String())
	}
	return code, out.String()
}

func parseDoctor(t *testing.T, out string) map[string]doctor.Check {
	t.Helper()
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	m := map[string]doctor.Check{}
	for _, c := range r.Checks {
		m[c.Name] = c
	}
	if r.OK == doctor.Failed(r.Checks) {
		t.Errorf("ok %v with checks %+v", r.OK, r.Checks)
	}
	return m
}

// TestDoctorOverVeth runs the real command on one end of a veth pair with
// an emulated modem, whose far end has no modem: every check passes, the
// emulated modem tells its firmware, and without a car there is no link.
func TestDoctorOverVeth(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)

	code, out := runDoctorIn(t, nsE, []string{bin}, "--emulate-modem", "--json")
	if code != 0 {
		t.Errorf("exit %d\n%s", code, out)
	}
	got := parseDoctor(t, out)
	want := map[string]doctor.Check{
		"interface":      {Name: "interface", Status: "ok", Found: "evse0 is up (02:00:00:00:e5:01)"},
		"driver":         {Name: "driver", Status: "ok", Found: "veth: a virtual interface, with an emulated modem"},
		"ipv6":           {Name: "ipv6", Status: "ok", Found: "link-local address " + nsE.LinkLocal.WithZone("evse0").String()},
		"raw_socket":     {Name: "raw_socket", Status: "ok", Found: "raw HomePlug socket on evse0"},
		"modem":          {Name: "modem", Status: "ok", Found: "the emulated modem 00:b0:52:00:e5:01 answered: firmware " + modemsim.DefaultFirmware},
		"powerline_link": {Name: "powerline_link", Status: "warn", Found: "no powerline link (normal without a car)"},
		"sdp_port":       {Name: "sdp_port", Status: "ok", Found: "UDP port 15118 is free on evse0"},
		"outputs":        {Name: "outputs", Status: "warn", Found: noOutputsFound, Fix: noOutputsFix},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d checks, want %d: %+v", len(got), len(want), got)
	}

	// The text form says the same, one line each.
	code, out = runDoctorIn(t, nsE, []string{bin}, "--emulate-modem")
	if code != 0 || !strings.Contains(out, "ok    modem           the emulated modem 00:b0:52:00:e5:01 answered: firmware "+modemsim.DefaultFirmware+"\n") ||
		!strings.Contains(out, "warn  powerline_link  no powerline link (normal without a car)\n") ||
		!strings.HasSuffix(out, "\nall checks passed (2 warnings)\n") {
		t.Errorf("exit %d\n%s", code, out)
	}

	// Without --emulate-modem nothing answers on a veth.
	code, out = runDoctorIn(t, nsE, []string{bin}, "--json", "--timeout", "200ms")
	got = parseDoctor(t, out)
	if code != 1 || got["driver"].Status != "warn" || got["driver"].Found != "veth: a virtual interface (use --emulate-modem)" ||
		got["modem"].Found != "no modem answered VS_SW_VER.REQ on evse0 within 200ms" || got["powerline_link"].Status != "skip" {
		t.Errorf("exit %d: %+v", code, got)
	}
}

// TestDoctorPortTaken holds UDP 15118 in the namespace, as the charger's
// own SDP socket or pyPLC's would, while the command checks.
func TestDoctorPortTaken(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE)
	bin := buildCCSLink(t)
	want := doctor.Check{Name: "sdp_port", Status: "FAIL", Found: "UDP port 15118 on evse0 is taken by another program (a running ccslink evse, or pyPLC?)",
		Fix: "`ss -ulpn sport = :15118` names it; `systemctl stop pyplc` stops pyPLC"}
	for _, open := range []struct {
		name string
		fn   func() (net.PacketConn, error)
	}{
		{"sdp.Listen", func() (net.PacketConn, error) { return sdp.Listen(nsE.Iface, 15118) }},
		{"a wildcard socket", func() (net.PacketConn, error) { return net.ListenPacket("udp6", "[::]:15118") }},
	} {
		var c net.PacketConn
		var err error
		nsE.Do(t, func() { c, err = open.fn() })
		if err != nil {
			t.Fatalf("%s: %v", open.name, err)
		}
		code, out := runDoctorIn(t, nsE, []string{bin}, "--emulate-modem", "--json")
		c.Close()
		got := parseDoctor(t, out)
		if code != 1 || got["sdp_port"] != want {
			t.Errorf("%s: exit %d, sdp_port %+v", open.name, code, got["sdp_port"])
		}
		if got["modem"].Status != "ok" {
			t.Errorf("%s: modem %+v", open.name, got["modem"])
		}
	}
}

// TestDoctorNoPermission runs the command as nobody, without CAP_NET_RAW.
func TestDoctorNoPermission(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE)
	_, bin, setpriv := binaryForNobody(t)
	code, out := runDoctorIn(t, nsE, []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin}, "--emulate-modem", "--json")
	got := parseDoctor(t, out)
	want := doctor.Check{Name: "raw_socket", Status: "FAIL", Found: "not permitted to open a raw socket on evse0",
		Fix: "needs CAP_NET_RAW: run as root, or once `sudo setcap cap_net_raw,cap_net_admin+ep $(command -v ccslink)`, or run it as the systemd unit does (AmbientCapabilities)"}
	if code != 1 || got["raw_socket"] != want {
		t.Errorf("exit %d, raw_socket %+v", code, got["raw_socket"])
	}
	if got["modem"].Status != "skip" || got["interface"].Status != "ok" || got["ipv6"].Status != "ok" {
		t.Errorf("%+v", got)
	}
}
