// Package peertest finds the programs from Debian that tests run as peers
// this project did not write (openssl, tshark): without one a test skips,
// and fails under CI=true, whose .ci/run installs them. Only test files
// import it.
package peertest

import (
	"os"
	"os/exec"
	"testing"
)

// Path returns the path of the program name, which Debian's package pkg
// installs; without it the test skips (fails under CI=true), for what.
func Path(t testing.TB, name, pkg, what string) string {
	t.Helper()
	p := Find(t, name, pkg, what)
	if p == "" {
		t.SkipNow()
	}
	return p
}

// Find is Path for a test that goes on without the program: "" then,
// said in the test's log (a failure under CI=true).
func Find(t testing.TB, name, pkg, what string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not installed (Debian: apt-get install " + pkg + "), which " + what
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": CI must run it (.ci/run installs it)")
	}
	t.Log(msg + ": not run")
	return ""
}
