package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEVSEBadConfig: what stops the daemon before it starts says what to fix.
func TestEVSEBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("interface: eth1\npolicy: soc\nmqtt:\n  brokr: tcp://x:1883\n"), 0o600)
	for _, tc := range []struct {
		args []string
		say  string
	}{
		{[]string{"evse", "--config", bad}, "bad.yaml:4:3: mqtt.brokr: unknown key"},
		{[]string{"evse", "--config", filepath.Join(dir, "none.yaml")}, "ccslink config example >"},
		{[]string{"evse", "--config", filepath.Join(dir, "none.yaml"), "--iface", "x"}, "ccslink config example >"},
		{[]string{"evse", "--config", "/nonexistent/ccslink.yaml", "--policy", "fast"}, "cannot read the configuration"},
		{[]string{"evse", "--config", "/nonexistent/x.yaml", "extra"}, `unexpected argument "extra"`},
		{[]string{"evse", "--iface", "eth1", "--http", "0.0.0.0:8080", "--config", filepath.Join(dir, "ok.yaml")}, "token"},
		{[]string{"evse", "--iface", "eth1", "--smartevse", "10.0.0.1", "--config", filepath.Join(dir, "ok.yaml")}, "http://10.0.0.1"},
		{[]string{"evse", "--iface", "eth1", "--iface-wait", "0s", "--config", filepath.Join(dir, "ok.yaml")}, "ccslink evse: --iface-wait 0s: give a duration above zero, such as 30s\n"},
	} {
		os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("interface: eth1\n"), 0o600)
		var out, errb bytes.Buffer
		if code := run(tc.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.say) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.say)
		}
	}
}

// TestEVSENoInterface: an interface that is not there at start is a
// mistake in the configuration, not a driver reset: the daemon says so at
// once, naming the interfaces there are.
func TestEVSENoInterface(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"evse", "--config", "/dev/null", "--iface", "nosuch0"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "\nccslink evse: no interface nosuch0; there are: ") || !strings.Contains(errb.String(), "lo") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	// Nothing configured to receive the car's values: said first, in words.
	if first, _, _ := strings.Cut(errb.String(), "\n"); !strings.Contains(first, "level=WARN") || !strings.Contains(first, `msg="`+noOutputs+`"`) {
		t.Errorf("first line %q", first)
	}
	errb.Reset()
	run([]string{"evse", "--config", "/dev/null", "--iface", "nosuch0", "--smartevse", "http://127.0.0.1:1"}, nil, &out, &errb)
	if strings.Contains(errb.String(), "go nowhere") {
		t.Errorf("warned with a SmartEVSE configured: %q", errb.String())
	}
}
