package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
)

// TestEVSEHTTPPortInUse: with the API's port held by another program, the
// daemon exits 1 saying so, and never says it is ready.
func TestEVSEHTTPPortInUse(t *testing.T) {
	nsE, _ := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	bin := buildCCSLink(t)
	var held net.Listener
	var err error
	nsE.Do(t, func() {
		if held, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer held.Close()
	addr := held.Addr().String()
	cfg := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := nsE.Command(ctx, bin, "evse", "--config", cfg, "--iface", nsE.Iface, "--emulate-modem", "--http", addr, "--state-dir", t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
	want := "ccslink evse: --http " + addr + ": the port is in use by another program: pick another port (http.listen in the configuration), or stop that program (`ss -ltnp` names it)"
	if lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	if strings.Contains(errb.String(), "ready") {
		t.Errorf("the daemon said it was ready:\n%s", errb.String())
	}
}
