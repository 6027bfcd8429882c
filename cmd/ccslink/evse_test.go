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
	} {
		os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("interface: eth1\n"), 0o600)
		var out, errb bytes.Buffer
		if code := run(tc.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.say) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.say)
		}
	}
}
