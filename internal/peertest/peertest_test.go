package peertest

import (
	"strings"
	"testing"
)

// rec records what a test would be told.
type rec struct {
	testing.TB
	logs  []string
	fatal string
}

func (r *rec) Helper()           {}
func (r *rec) Log(args ...any)   { r.logs = append(r.logs, args[0].(string)) }
func (r *rec) Fatal(args ...any) { r.fatal = args[0].(string) }
func (r *rec) SkipNow()          {}

func TestFind(t *testing.T) {
	t.Setenv("CI", "")
	if p := Find(t, "sh", "dash", "runs scripts"); !strings.HasSuffix(p, "/sh") {
		t.Fatalf("sh: %q", p)
	}
	r := &rec{TB: t}
	if p := Find(r, "no-such-program-here", "nothing", "checks nothing"); p != "" || r.fatal != "" ||
		len(r.logs) != 1 || r.logs[0] != "no-such-program-here is not installed (Debian: apt-get install nothing), which checks nothing: not run" {
		t.Fatalf("missing, not CI: %q, %q, %q", p, r.fatal, r.logs)
	}
	t.Setenv("CI", "true")
	r = &rec{TB: t}
	if p := Find(r, "no-such-program-here", "nothing", "checks nothing"); p != "" ||
		r.fatal != "no-such-program-here is not installed (Debian: apt-get install nothing), which checks nothing: CI must run it (.ci/run installs it)" {
		t.Fatalf("missing under CI: %q, %q", p, r.fatal)
	}
}
