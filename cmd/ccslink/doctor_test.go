package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/tools/doctor"
)

func runDoctorArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	// An empty configuration unless the test gives one: never this host's.
	code := run(append([]string{"doctor", "--config", "/dev/null"}, args...), nil, &out, &errb)
	return code, out.String(), errb.String()
}

// TestDoctorMissingInterface runs on this host: the interface list is its own.
func TestDoctorMissingInterface(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	code, out, _ := runDoctorArgs(t, "--iface", "nosuch0")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(out, "\n")
	if want := "FAIL  interface       no interface nosuch0; there are: " + strings.Join(names, ", "); lines[0] != want {
		t.Errorf("first line\n%q\nwant\n%q", lines[0], want)
	}
	if !strings.HasPrefix(lines[1], "                      fix: ") {
		t.Errorf("second line %q, want the fix", lines[1])
	}
	for _, n := range []string{"driver", "ipv6", "raw_socket", "modem", "powerline_link", "sdp_port"} {
		if want := "skip  " + n + strings.Repeat(" ", 16-len(n)) + "not checked: no interface nosuch0\n"; !strings.Contains(out, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n1 check failed\n") {
		t.Errorf("no summary in\n%s", out)
	}
}

func TestDoctorSmartEVSE(t *testing.T) {
	closed := netnstest.RefusingAddr(t)
	for _, tc := range []struct{ url, want string }{
		{"10.0.0.1", "FAIL  smartevse       smartevse: the URL has no scheme (10.0.0.1)\n" +
			"                      fix: write http://10.0.0.1\n"},
		{"http://" + closed, "FAIL  smartevse       the SmartEVSE at " + closed + " is not reachable: it refused the connection: nothing listens there\n" +
			"                      fix: check the SmartEVSE's address and port (its web server listens on port 80)\n"},
	} {
		code, out, _ := runDoctorArgs(t, "--iface", "nosuch0", "--smartevse", tc.url)
		if code != 1 || !strings.Contains(out, tc.want) || !strings.HasSuffix(out, "\n2 checks failed\n") {
			t.Errorf("%s: exit %d, want 1 and\n%s\nin\n%s", tc.url, code, tc.want, out)
		}
	}
}

func TestDoctorJSON(t *testing.T) {
	code, out, _ := runDoctorArgs(t, "--iface", "nosuch0", "--json", "--smartevse", "10.0.0.1")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	var got struct {
		OK     bool           `json:"ok"`
		Checks []doctor.Check `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("%v: %q", err, out)
	}
	if got.OK || len(got.Checks) != 9 || got.Checks[0].Name != "interface" || got.Checks[0].Status != "FAIL" {
		t.Errorf("%+v", got)
	}
	want := doctor.Check{Name: "outputs", Status: "ok", Found: "the cars' values go to: SmartEVSE 10.0.0.1"}
	if got.Checks[7] != want {
		t.Errorf("got %+v", got.Checks[7])
	}
	want = doctor.Check{Name: "smartevse", Status: "FAIL", Found: "smartevse: the URL has no scheme (10.0.0.1)", Fix: "write http://10.0.0.1"}
	if got.Checks[8] != want {
		t.Errorf("got %+v", got.Checks[8])
	}
	if !strings.Contains(out, "`dtoverlay=qca7000,int_pin=<GPIO>,speed=<Hz>`") {
		t.Errorf("the fix is escaped: %s", out)
	}
}

func TestDoctorArgs(t *testing.T) {
	if code, _, errs := runDoctorArgs(t, "extra"); code != 2 || errs != "ccslink doctor: unexpected argument \"extra\"\n" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if code, _, _ := runDoctorArgs(t, "--nosuch"); code != 2 {
		t.Errorf("exit %d for a bad flag", code)
	}
	if code, _, errs := runDoctorArgs(t, "-h"); code != 0 || !strings.Contains(errs, "Usage: ccslink doctor") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// TestDoctorOutputs: doctor reads the configuration the daemon runs with
// and says, as the daemon warns at start, when the cars' values would go
// nowhere; the flags override the file as they do for evse.
func TestDoctorOutputs(t *testing.T) {
	dir := t.TempDir()
	mqtt := filepath.Join(dir, "mqtt.yaml")
	if err := os.WriteFile(mqtt, []byte("interface: nosuch0\nmqtt:\n  broker: tcp://user:secret@broker:1883\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	none := "warn  outputs         " + noOutputsFound + "\n" +
		"                      fix: " + noOutputsFix + "\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--iface", "nosuch0"}, none},
		{[]string{"--config", mqtt}, "ok    outputs         the cars' values go to: MQTT tcp://<redacted>@broker:1883\n"},
		{[]string{"--config", mqtt, "--smartevse", "http://10.0.0.1", "--timeout", "1ms"},
			"ok    outputs         the cars' values go to: SmartEVSE http://10.0.0.1, MQTT tcp://<redacted>@broker:1883\nFAIL  smartevse "},
	} {
		code, out, errs := runDoctorArgs(t, tc.args...)
		// The configuration's interface is the one checked.
		if code != 1 || errs != "" || !strings.HasPrefix(out, "FAIL  interface       no interface nosuch0;") || !strings.Contains(out, "\nskip  sdp_port        not checked: no interface nosuch0\n"+tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want\n%s\nafter sdp_port in\n%s", tc.args, code, errs, tc.want, out)
		}
	}
	// The warning's words are the daemon's.
	if noOutputs != noOutputsFound+"; "+noOutputsFix {
		t.Errorf("noOutputs %q", noOutputs)
	}
	// A configuration that cannot be read stops doctor as it stops evse.
	if code, _, errs := runDoctorArgs(t, "--config", filepath.Join(dir, "none.yaml")); code != 2 || !strings.Contains(errs, "ccslink doctor: ") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
