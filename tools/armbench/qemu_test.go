package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
)

// needQemu skips without qemu-user, but fails under CI, which installs it.
func needQemu(t *testing.T, tg target) {
	t.Helper()
	if _, err := exec.LookPath(tg.qemu); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v", &MissingQemuError{Binary: tg.qemu})
		}
		t.Skipf("%v", &MissingQemuError{Binary: tg.qemu})
	}
}

// TestSpin counts testdata/spin under qemu on both architectures: an op of
// BenchmarkSpin3000 runs exactly 4000 instructions more than one of
// BenchmarkSpin1000 (2000 more turns of a two-instruction loop), and two
// runs count the same.
func TestSpin(t *testing.T) {
	for _, arch := range []string{"arm", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			tg := targets[arch]
			needQemu(t, tg)
			rows, err := measurePackage(context.Background(), tg, "./testdata/spin", ".", 2, 2, 2, t.TempDir(), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0].Bench != "BenchmarkSpin1000" || rows[1].Bench != "BenchmarkSpin3000" {
				t.Fatalf("rows %+v, want BenchmarkSpin1000 and BenchmarkSpin3000", rows)
			}
			for _, r := range rows {
				if r.Min != r.Max {
					t.Errorf("%s: %v to %v instructions/op in two runs, want the same", r.Bench, r.Min, r.Max)
				}
				if r.Allocs != 0 {
					t.Errorf("%s: %v allocs/op, want 0", r.Bench, r.Allocs)
				}
			}
			if d := rows[1].Min - rows[0].Min; d != 4000 {
				t.Errorf("Spin3000 %v - Spin1000 %v = %v instructions/op, want 4000", rows[1].Min, rows[0].Min, d)
			}
		})
	}
}
