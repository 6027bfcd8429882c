// Package mosquittotest runs Debian's mosquitto broker for tests: on a free
// loopback port, with a configuration of its own in a temporary directory.
// Only test files import it.
package mosquittotest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startBound is how long mosquitto may take to start; it takes milliseconds.
const startBound = 20 * time.Second

// Start runs mosquitto until the test ends and returns its URL,
// tcp://127.0.0.1:<port>. Without mosquitto it skips the test, and fails
// it when CI=true (CI installs mosquitto).
func Start(t testing.TB) string {
	t.Helper()
	bin := ""
	for _, name := range []string{"mosquitto", "/usr/sbin/mosquitto"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		const msg = "needs Debian's mosquitto (apt-get install mosquitto)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + ": CI must run this test (.ci/run installs it)")
		}
		t.Skip(msg + "; skipped")
	}
	// A free port, taken and given back: another socket may take it before
	// mosquitto binds it, so a start that fails is tried on another port.
	var exitLog string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		var ok bool
		if ok, exitLog = start(t, bin, port); ok {
			return fmt.Sprintf("tcp://127.0.0.1:%d", port)
		}
	}
	t.Fatalf("mosquitto exited at start, three times:\n%s", exitLog)
	return ""
}

// start runs mosquitto on port until the test ends; ok is false, with what
// it said, when it exited at start.
func start(t testing.TB, bin string, port int) (ok bool, said string) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n", port)
	if os.Geteuid() == 0 {
		text += "user root\n" // mosquitto would switch to its own user, who cannot read the test's files
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-c", conf)
	// stderr: its lines are written at once, where stdout waits for a full buffer.
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })

	// mosquitto says when it listens: "Opening ipv4 listen socket on port N.",
	// then "mosquitto version X running".
	running := make(chan struct{})
	var log strings.Builder
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), " running") {
					said = true
					close(running)
				}
			}
		}
		cmd.Wait()
	}()
	select {
	case <-running:
	case <-done:
		return false, log.String()
	case <-time.After(startBound):
		t.Fatalf("mosquitto did not start within %v", startBound)
	}
	return true, ""
}
