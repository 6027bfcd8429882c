package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
)

// TestEVSEWithCapabilitiesOnly runs the daemon as the systemd unit does:
// not root, only CAP_NET_RAW and CAP_NET_ADMIN as ambient capabilities. A
// car plugs in and its values reach the SmartEVSE. (Watching the interface
// once needed CAP_SYS_ADMIN, and the daemon failed at start.)
func TestEVSEWithCapabilitiesOnly(t *testing.T) {
	nsE, nsP := netnstest.NewVethPair(t, netnsEVSE)
	nsE.IP(t, "link", "set", "lo", "up")
	dir, bin, setpriv := binaryForNobody(t)
	// Nobody must also write the state directory.
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 65534, 65534); err != nil {
		t.Fatal(err)
	}

	stub, stubURL := serveStub(t, nsE, "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin",
		bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json", "--smartevse", stubURL, "--state-dir", state)
	dErr, records := startDaemon(t, daemon)

	car := nsP.Command(ctx, bin, "pev", "--iface", nsP.Iface, "--emulate-modem", "--json", "--car", "ioniq", "--timeout", "40s")
	var cOut, cErr bytes.Buffer
	car.Stdout, car.Stderr = &cOut, &cErr
	if err := car.Run(); err != nil {
		t.Fatalf("car: %v\n%s%s\ndaemon:\n%s", err, cOut.String(), cErr.String(), dErr.String())
	}
	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", dErr.String())
	}
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=02000000ca01"
	stub.mu.Lock()
	got := stub.got[0].query
	stub.mu.Unlock()
	if got != want {
		t.Fatalf("the SmartEVSE got %q, want %q\ndaemon:\n%s", got, want, dErr.String())
	}
	select {
	case <-records: // the plug-in's record, written by nobody
	case <-ctx.Done():
		t.Fatalf("no record from the daemon\n%s", dErr.String())
	}
}

// binaryForNobody builds ccslink into a directory of its own, open to all,
// so that nobody (uid 65534) can run it through setpriv; it skips the test
// without setpriv.
func binaryForNobody(t *testing.T) (dir, bin, setpriv string) {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir, err = os.MkdirTemp("", "ccslink-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin = filepath.Join(dir, "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin, setpriv
}
