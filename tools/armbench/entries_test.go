package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The functions Count watches are found in this test binary itself (the
// host's architecture: the table is the same on every one).
func TestReadSymbols(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ReadSymbols(exe)
	if err != nil {
		t.Fatal(err)
	}
	count := map[Event]int{}
	for _, ev := range s.Events {
		count[ev]++
	}
	for ev, want := range map[Event]int{EnterSysmon: 1, EnterRun1: 1, EnterStartTimer: 1, EnterResetTimer: 1, EnterStopTimer: 1, EnterMorestack: 2, EnterGogo: 1} {
		if count[ev] != want {
			t.Errorf("event %d at %d entries, want %d", ev, count[ev], want)
		}
	}
	if len(s.Timers) != 2 || len(s.Funcs) < 1000 {
		t.Errorf("%d timer ranges, %d functions; want 2 and a test binary's thousands", len(s.Timers), len(s.Funcs))
	}
	for pc, ev := range s.Events {
		if !s.Funcs[pc] {
			t.Errorf("event %d at %#x, not a function's entry", ev, pc)
		}
	}
	var se *SymbolError
	if _, err := ReadSymbols(filepath.Join(t.TempDir(), "none")); !errors.As(err, &se) {
		t.Errorf("a missing binary: %v, want a SymbolError", err)
	}
}
