package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/logging"
)

// journalFile is a file standing in for the journal's stream on stderr,
// with the JOURNAL_STREAM value systemd would set for it.
func journalFile(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	stream, ok := logging.StreamOf(f)
	if !ok {
		t.Fatalf("no device and inode for %s", f.Name())
	}
	return f, stream
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJournalExitError: the error a command exits with is an error in the
// journal (<3>), and a plain line anywhere else.
func TestJournalExitError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	line := fmt.Sprintf("ccslink evse: %s: cannot read the configuration (open %[1]s: no such file or directory); write one with: ccslink config example > %[1]s\n", missing)

	f, stream := journalFile(t)
	t.Setenv(logging.StreamEnv, stream)
	if code := run([]string{"evse", "--config", missing}, nil, os.Stdout, f); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if got := readFile(t, f.Name()); got != "<3>"+line {
		t.Fatalf("the journal got %q, want %q", got, "<3>"+line)
	}

	other, otherStream := journalFile(t)
	t.Setenv(logging.StreamEnv, otherStream) // another file's: stderr is not the journal
	f2, _ := journalFile(t)
	run([]string{"evse", "--config", missing}, nil, os.Stdout, f2)
	if got := readFile(t, f2.Name()); got != line {
		t.Fatalf("stderr got %q, want %q", got, line)
	}
	if got := readFile(t, other.Name()); got != "" {
		t.Fatalf("the file JOURNAL_STREAM names got %q", got)
	}
}

// TestJournalBinary runs the daemon's binary as systemd does, its stderr
// the stream JOURNAL_STREAM names: the log's lines and the error it exits
// with carry their priorities and no time. lo never has an IPv6
// link-local address, so the daemon says it waits for one (information),
// then gives up (an error).
func TestJournalBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "ccslink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	run := func(t *testing.T, stream func(own string) string) string {
		f, own := journalFile(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cfg := filepath.Join(t.TempDir(), "empty.yaml")
		if err := os.WriteFile(cfg, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, bin, "evse", "--config", cfg, "--iface", "lo", "--http", "127.0.0.1:0",
			"--iface-wait", "200ms", "--state-dir", t.TempDir())
		cmd.Env = append(os.Environ(), logging.StreamEnv+"="+stream(own))
		cmd.Stderr = f
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1\n%s", err, readFile(t, f.Name()))
		}
		return readFile(t, f.Name())
	}
	t.Run("journal", func(t *testing.T) {
		got := run(t, func(own string) string { return own })
		want := regexp.MustCompile(`^<6>level=INFO msg="waiting for lo" why="no IPv6 link-local address yet" within=200ms\n` +
			`<3>ccslink evse: lo not usable after 200ms: [^\n]*\n$`)
		if !want.MatchString(got) {
			t.Fatalf("the journal got\n%s", got)
		}
	})
	t.Run("not the journal", func(t *testing.T) {
		got := run(t, func(own string) string { return own + "0" })
		want := regexp.MustCompile(`^time=\S+ level=INFO msg="waiting for lo" why="no IPv6 link-local address yet" within=200ms\n` +
			`ccslink evse: lo not usable after 200ms: [^\n]*\n$`)
		if !want.MatchString(got) {
			t.Fatalf("stderr got\n%s", got)
		}
	})
}
