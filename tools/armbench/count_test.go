package main

import (
	"errors"
	"strings"
	"testing"
)

// A log as qemu-arm 7.2 writes it with -d in_asm,exec,nochain: two
// threads, the second running sysmon, a block stopped before it ran, a
// block capped by its cflags, the kernel's helper page.
const sampleLog = `----------------
IN: _rt0_arm_linux
0x000b2f5c:  e59d0000  ldr      r0, [sp]
0x000b2f60:  e28d1004  add      r1, sp, #4
0x000b2f64:  e59f4004  ldr      r4, [pc, #4]
0x000b2f68:  e284f000  add      pc, r4, #0

Trace 0: 0x7f09640000c0 [00000480/000b2f5c/00000000/00000200] _rt0_arm_linux
----------------
IN: runtime.sysmon
0x00071000:  e59d0000  ldr      r0, [sp]
0x00071004:  e28d1004  add      r1, sp, #4
0x00071008:  eafff702  b        #0x71000

Trace 1: 0x7f0964000200 [00000480/00071000/00000000/00080200] runtime.sysmon
----------------
IN: 
0xffff0fa0:  00000000  andeq    r0, r0, r0

Trace 0: 0x7f0964005980 [00000480/ffff0fa0/00000000/00080200] 
Trace 0: 0x7f09640000c0 [00000480/000b2f5c/00000000/00080200] _rt0_arm_linux
Trace 1: 0x7f0964000200 [00000480/00071000/00000000/00080200] runtime.sysmon
Trace 0: 0x7f09640000c0 [00000480/000b2f5c/00000000/00080200] _rt0_arm_linux
Stopped execution of TB chain before 0x7f09640000c0 [000b2f5c] _rt0_arm_linux
Trace 0: 0x7f09640000c0 [00000480/000b2f5c/00000000/00080202] _rt0_arm_linux
Trace 2: 0x7f09640000c0 [00000480/000b2f5c/00000000/00080200] _rt0_arm_linux
`

func TestCount(t *testing.T) {
	c, err := Count(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	// cpu 0: 4 + 1 + 4 + (4 stopped: 0) + 2 (capped at 2); cpu 1: 3 + 3;
	// cpu 2: 4.
	want := map[int]uint64{0: 11, 1: 6, 2: 4}
	if len(c.PerCPU) != len(want) {
		t.Errorf("PerCPU %v, want %v", c.PerCPU, want)
	}
	for cpu, n := range want {
		if c.PerCPU[cpu] != n {
			t.Errorf("cpu %d: %d instructions, want %d", cpu, c.PerCPU[cpu], n)
		}
	}
	if c.Sysmon != 1 {
		t.Errorf("Sysmon %d, want 1", c.Sysmon)
	}
	if c.Program() != 15 {
		t.Errorf("Program %d, want 15", c.Program())
	}
	if c.Blocks != 7 {
		t.Errorf("Blocks %d, want 7", c.Blocks)
	}
}

// A block stopped on one thread is taken from the thread that last
// entered it, not from another.
func TestCountStoppedThread(t *testing.T) {
	log := `IN: f
0x00001000:  e59d0000  ldr      r0, [sp]
0x00001004:  e59d0000  ldr      r0, [sp]

IN: g
0x00002000:  e59d0000  ldr      r0, [sp]

Trace 0: 0x1 [00000000/00001000/00000000/00000200] f
Trace 3: 0x1 [00000000/00001000/00000000/00000200] f
Trace 0: 0x2 [00000000/00002000/00000000/00000200] g
Stopped execution of TB chain before 0x1 [00001000] f
`
	c, err := Count(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if c.PerCPU[0] != 3 || c.PerCPU[3] != 0 || c.Sysmon != -1 || c.Program() != 3 {
		t.Errorf("PerCPU %v, Sysmon %d, Program %d; want map[0:3 3:0], -1, 3", c.PerCPU, c.Sysmon, c.Program())
	}
}

// arm64's addresses are 16 digits long; a log without a trailing newline
// counts its last line.
func TestCountARM64(t *testing.T) {
	log := "----------------\nIN: main.f\n0x0000000000401000:  d503201f  nop\n0x0000000000401004:  d65f03c0  ret\n\n" +
		"Trace 0: 0x7f00 [0000000000000000/0000000000401000/00000000/00000200] main.f"
	c, err := Count(strings.NewReader(log))
	if err != nil || c.Program() != 2 {
		t.Errorf("Program %d, %v; want 2", c.Program(), err)
	}
}

// What cannot be counted exactly is an error that says so, never a guess.
func TestCountErrors(t *testing.T) {
	for _, c := range []struct {
		name, log string
		line      int
		reason    string
	}{
		{"untranslated", "Trace 0: 0x1 [00000000/00001000/00000000/00000200] f\n", 1,
			"pc 0x1000 ran before any block there was translated"},
		{"retranslated", "IN: f\n0x00001000:  e59d0000  ldr\n\nIN: f\n0x00001000:  e59d0000  ldr\n0x00001004:  e59d0000  ldr\n\n", 7,
			"pc 0x1000 translated as 1 and as 2 instructions"},
		{"not a trace", "Trace zero: 0x1 [00000000/00001000/00000000/00000200] f\n", 1,
			"not a Trace line of qemu's exec log"},
		{"short fields", "IN: f\n0x00001000:  e59d0000  ldr\n\nTrace 0: 0x1 [00001000/00000200] f\n", 4,
			"not a Trace line of qemu's exec log"},
		{"stopped unknown", "Stopped execution of TB chain before 0x1 [00001000] f\n", 1,
			"no thread's last block starts there"},
		{"stopped twice", "IN: f\n0x00001000:  e59d0000  ldr\n\nTrace 0: 0x1 [00000000/00001000/00000000/00000200] f\n" +
			"Stopped execution of TB chain before 0x1 [00001000] f\nStopped execution of TB chain before 0x1 [00001000] f\n", 6,
			"no thread's last block starts there"},
		{"bad address", "IN: f\n0xzz:  e59d0000  ldr\n", 2, "an instruction line without its address"},
	} {
		_, err := Count(strings.NewReader(c.log))
		var le *LogError
		if !errors.As(err, &le) || le.Line != c.line || le.Reason != c.reason {
			t.Errorf("%s: %#v, want line %d: %s", c.name, err, c.line, c.reason)
			continue
		}
		if !strings.Contains(err.Error(), "the count would not be exact") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
