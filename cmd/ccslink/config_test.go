package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/daemon/config"
)

// runConfigCmd runs ccslink config with args and returns its exit status, stdout and stderr.
func runConfigCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"config"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "ccslink.yaml", "interface: eth0\nsmartevse:\n  url: http://10.0.0.1\n")
	code, out, errs := runConfigCmd("check", good)
	if code != 0 || out != "ok: "+good+"\n" || errs != "" {
		t.Fatalf("check of a good file: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	bad := writeFile(t, "ccslink.yaml", "interface: eth0\npolicy: fast\nhttp:\n  listen: 0.0.0.0:8080\nmqtt:\n  brokr: x\n")
	code, out, errs = runConfigCmd("check", bad)
	want := bad + `:2:9: policy: "fast" is not a policy: use soc (read the SoC, then let the car charge on AC), dc (a full emulated DC session) or ac (an ISO 15118-2 AC session)` + "\n" +
		bad + `:4:11: http.listen: "0.0.0.0:8080" is reachable from the network: set http.token (e.g. the output of ` + "`openssl rand -hex 16`" + `) or listen on 127.0.0.1` + "\n" +
		bad + ":6:3: mqtt.brokr: unknown key (did you mean mqtt.broker?)\n"
	if code != 1 || out != "" || errs != want {
		t.Fatalf("check of a bad file: exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, want)
	}

	missing := filepath.Join(t.TempDir(), "none.yaml")
	code, _, errs = runConfigCmd("check", missing)
	if code != 1 || !strings.HasPrefix(errs, missing+": cannot read the configuration (") {
		t.Fatalf("check of a missing file: exit %d, stderr %q", code, errs)
	}

	ini := writeFile(t, "pyPlc.ini", "[general]\nmode = EvseMode\neth_interface = eth1\n")
	if code, out, _ := runConfigCmd("check", ini); code != 0 || out != "ok: "+ini+"\n" {
		t.Fatalf("check of a pyPLC.ini: exit %d, %q", code, out)
	}

	for _, args := range [][]string{{}, {"check"}, {"check", "a", "b"}, {"frobnicate"}, {"example", "x"}} {
		if code, _, errs := runConfigCmd(args...); code != 2 || !strings.Contains(errs, "Usage:") {
			t.Errorf("config %q: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestConfigExample(t *testing.T) {
	code, out, errs := runConfigCmd("example")
	if code != 0 || out != string(config.Default().YAML()) || errs != "" {
		t.Fatalf("exit %d, stderr %q, stdout\n%s", code, errs, out)
	}
}

func TestConfigImportPyPLC(t *testing.T) {
	ini := writeFile(t, "pyPlc.ini", "[general]\nmode = EvseMode\neth_interface = eth1\ndisplay_via_serial = yes\n"+
		"soc_callback_enabled = True\nsoc_callback_endpoint = http://10.0.0.1/ev_state\nsoc_fallback_energy_capacity = 2700\n")
	code, out, errs := runConfigCmd("import-pyplc", ini)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := config.Default()
	want.SmartEVSE.URL = "http://10.0.0.1/ev_state"
	want.CapacityFallback = []config.Capacity{{EVCCID: "*", CapacityWh: 27000}}
	if out != string(want.YAML()) {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want.YAML())
	}
	wantErr := ini + ":2: mode = EvseMode: ccslink is the charger, as in EvseMode; policy soc reads the car's SoC as pyPLC did\n" +
		ini + ":3: eth_interface = eth1: -> interface: eth1\n" +
		ini + ":4: display_via_serial = yes: no equivalent: ccslink drives no display; `ccslink evse` prints one line per plug-in, and the HTTP page shows the car\n" +
		ini + ":5: soc_callback_enabled = True: on: soc_callback_endpoint becomes smartevse.url\n" +
		ini + ":6: soc_callback_endpoint = http://10.0.0.1/ev_state: -> smartevse.url: http://10.0.0.1/ev_state (a URL with a path such as /ev_state is used as given, a base URL gets /ev_state appended)\n" +
		ini + ":7: soc_fallback_energy_capacity = 2700: -> capacity_fallback \"*\": 27000 Wh (pyPLC multiplies the value by 10: 2700 means 27 kWh)\n"
	if errs != wantErr {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errs, wantErr)
	}
	// what it prints is a configuration that checks
	saved := writeFile(t, "ccslink.yaml", out)
	if code, _, errs := runConfigCmd("check", saved); code != 0 {
		t.Fatalf("the imported YAML does not check: %s", errs)
	}

	pev := writeFile(t, "pyPlc.ini", "[general]\nmode = PevMode\neth_interface = eth0\n")
	code, out, errs = runConfigCmd("import-pyplc", pev)
	wantErr = pev + ":3: eth_interface = eth0: -> interface: eth0\n" +
		pev + ":2:8: mode: PevMode is not imported: ccslink replaces pyPLC's charger mode (EvseMode) only; set mode = EvseMode, or keep pyPLC for PevMode\n"
	if code != 1 || out != "" || errs != wantErr {
		t.Fatalf("PevMode: exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, wantErr)
	}
}

func TestConfigShow(t *testing.T) {
	p := writeFile(t, "ccslink.yaml", "mqtt:\n  broker: tcp://u:secretpw@nas:1883\n  password: secretpw\nhttp:\n  listen: :8080\n  token: secrettokensecrettoken\n")
	code, out, errs := runConfigCmd("show", p)
	if code != 0 || errs != "" {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, "secretpw") || strings.Contains(out, "secrettoken") {
		t.Fatalf("a secret is shown:\n%s", out)
	}
	for _, want := range []string{"  broker: \"tcp://<redacted>@nas:1883\"\n", "  password: \"<redacted>\"\n", "  token: \"<redacted>\"\n", "  listen: \":8080\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}
