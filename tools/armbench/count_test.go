package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	c, err := Count(strings.NewReader(sampleLog), &Symbols{Events: map[uint64]Event{0x71000: EnterSysmon}})
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
	if len(c.Benchmarks) != 0 {
		t.Errorf("Benchmarks %v, want none", c.Benchmarks)
	}
}

// benchLog builds a log from its blocks, one instruction line per
// instruction, and their executions ("cpu pc" or "stop pc").
func benchLog(blocks map[uint64]struct {
	sym string
	n   int
}, runs string) string {
	var b strings.Builder
	for pc, bl := range blocks {
		fmt.Fprintf(&b, "----------------\nIN: %s\n", bl.sym)
		for i := range bl.n {
			fmt.Fprintf(&b, "0x%08x:  e1a00000  mov      r0, r0\n", pc+uint64(4*i))
		}
		b.WriteString("\n")
	}
	for _, f := range strings.Fields(runs) {
		cpu, pcs, _ := strings.Cut(f, ":")
		pc, _ := strconv.ParseUint(pcs, 16, 64)
		if cpu == "stop" {
			fmt.Fprintf(&b, "Stopped execution of TB chain before 0x7f00 [%08x] %s\n", pc, blocks[pc].sym)
			continue
		}
		fmt.Fprintf(&b, "Trace %s: 0x7f00 [00000480/%08x/00000000/00080200] %s\n", cpu, pc, blocks[pc].sym)
	}
	return b.String()
}

// The benchmarks' timed stretches: they open when StartTimer or
// ResetTimer returns (what they call is not counted); a parent's stretch,
// open around its sub-benchmarks, is dropped; a stack growth counts, a
// preemption does not; sysmon never counts; a stopped block is taken back;
// only a function's entry is its event.
func TestCountBenchmarks(t *testing.T) {
	blocks := map[uint64]struct {
		sym string
		n   int
	}{
		0x100: {"testing.(*B).run1", 2},
		0x200: {"testing.(*B).StartTimer", 3},
		0x280: {"testing.(*B).StartTimer", 1}, // after its call
		0x300: {"testing.(*B).StopTimer", 5},
		0x400: {"testing.(*B).ResetTimer", 7},
		0x480: {"testing.(*B).ResetTimer", 2}, // after its call
		0x500: {"pkg.work", 10},
		0x510: {"pkg.bench", 1}, // where a timer method returns to
		0x540: {"pkg.work", 2},  // its tail: calls morestack
		0x548: {"pkg.work", 1},  // where morestack returns: back to the entry
		0x580: {"testing.(*B).StopTimer", 2},
		0x600: {"runtime.morestack", 1},
		0x700: {"runtime.newstack", 20},
		0x800: {"runtime.goschedImpl", 30},
		0x900: {"gogo", 4},
		0xa00: {"runtime.sysmon", 100},
		0xb00: {"pkg.other", 1000},
		0xc00: {"runtime.ReadMemStats", 50},
	}
	syms := &Symbols{Events: map[uint64]Event{}, Funcs: map[uint64]bool{}, Timers: [][2]uint64{{0x200, 0x300}, {0x400, 0x500}}}
	for pc, b := range blocks {
		switch pc {
		case 0x280, 0x480, 0x510, 0x540, 0x548, 0x580: // within a function
		default:
			syms.Funcs[pc] = true
			syms.Events[pc] = entrySymbols[b.sym]
		}
	}
	runs := "1:a00 " + // sysmon on cpu 1
		"0:100 0:200 0:510 0:500 " + // the parent: run1, StartTimer, work
		"0:100 0:400 0:500 0:200 0:510 0:500 0:580 1:a00 2:b00 0:300 " + // a child: 1 + 10 + 2 + 1000 on cpu 2
		"0:200 0:c00 0:280 0:510 0:500 0:540 0:600 0:700 0:900 0:548 0:500 0:300 " + // a b.N run: 1 + 10 + 2 + stack growth 25 + 1 + 10
		"0:100 0:300 " + // a parent's next child without a stretch: not a benchmark of its own
		"0:100 0:400 0:200 0:510 0:500 0:400 0:c00 0:480 0:510 0:500 " + // b.Loop's ResetTimer: 1 + 10
		"0:540 0:600 0:700 0:800 0:b00 0:900 0:548 0:500 stop:500 0:500 0:300" // preempted (as if not), a block stopped
	c, err := Count(strings.NewReader(benchLog(blocks, runs)), syms)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1 + 10 + 2 + 1000 + 1 + 10 + 2 + 25 + 1 + 10, 1 + 10}
	if !slices.Equal(c.Benchmarks, want) {
		t.Errorf("Benchmarks %v, want %v", c.Benchmarks, want)
	}
	if c.Preemptions != 1 || c.Sysmon != 1 {
		t.Errorf("Preemptions %d, Sysmon %d; want 1, 1", c.Preemptions, c.Sysmon)
	}
	if c.PerCPU[1] != 200 || c.PerCPU[2] != 1000 {
		t.Errorf("PerCPU %v, want 200 on cpu 1, 1000 on cpu 2", c.PerCPU)
	}
}

// arm64's addresses are 16 digits long; a log without a trailing newline
// counts its last line.
func TestCountARM64(t *testing.T) {
	log := "----------------\nIN: main.f\n0x0000000000401000:  d503201f  nop\n0x0000000000401004:  d65f03c0  ret\n\n" +
		"Trace 0: 0x7f00 [0000000000000000/0000000000401000/00000000/00000200] main.f"
	c, err := Count(strings.NewReader(log), nil)
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
		_, err := Count(strings.NewReader(c.log), nil)
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
