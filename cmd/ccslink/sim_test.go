package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSim runs the simulated plug-in in process, on the real clock (about
// 2 s: the modem restart and the ISO 15118-3 timers).
func TestSim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 2 s of real time")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--attenuation", "17"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"sim: charger 02:00:00:00:00:01 and car 02:00:00:00:00:02 on one cable, 17 dB apart\n",
		"sim: SLAC matched: car 02:00:00:00:00:02, RunID ",
		", 10 sounds, 17.0 dB, NID ",
		"sim: link up after ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"sim", "--attenuation", "91"}, nil, &out, &errb); code != 2 {
		t.Errorf("--attenuation 91: exit %d, want 2", code)
	}
}
