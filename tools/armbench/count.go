package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// Counts is what one run of a Go test binary under qemu executed, read
// from qemu's "-d in_asm,exec,nochain" log. qemu-user gives each guest
// thread a virtual CPU of its own.
type Counts struct {
	// PerCPU holds the instructions each guest thread executed.
	PerCPU map[int]uint64
	// Sysmon is the CPU that ran runtime.sysmon, or -1. Go's sysmon wakes
	// by the clock, and emulation slows the clock's work down a
	// hundredfold: its count says how long the run took, not what the
	// program did, so no figure includes it.
	Sysmon int
	// Benchmarks holds, per benchmark in the order they ran, the
	// instructions of every thread but sysmon while its timer ran
	// (between B.StartTimer or B.ResetTimer and B.StopTimer), less the
	// preemptions.
	Benchmarks []uint64
	// Preemptions counts the times sysmon preempted a goroutine in a timed
	// stretch; what each cost is left out, as it depends on the clock.
	Preemptions int
	// Blocks counts the translation blocks executed.
	Blocks uint64
}

// Program is the instructions of every thread but sysmon.
func (c Counts) Program() uint64 {
	var n uint64
	for cpu, v := range c.PerCPU {
		if cpu != c.Sysmon {
			n += v
		}
	}
	return n
}

// LogError is a line of qemu's log that cannot be counted exactly.
type LogError struct {
	Line   int
	Text   string
	Reason string
}

func (e *LogError) Error() string {
	return fmt.Sprintf("qemu log line %d (%q): %s; the count would not be exact, so there is none (is this qemu 7.2 or later, run with -d in_asm,exec,nochain?)", e.Line, e.Text, e.Reason)
}

// cfCountMask is the part of a block's cflags that caps its length when
// qemu translated it for fewer instructions than usual (qemu's
// CF_COUNT_MASK).
const cfCountMask = 0x1ff

// Where a CPU's last block was counted.
const (
	untimed = iota
	timed
	inAnExcursion
)

// cpuState is one guest thread's part in the current timed stretch.
type cpuState struct {
	pending    uint64 // instructions in the open timed stretch
	lastPC     uint64
	lastBucket int
	// The last two blocks: a call to morestack comes from a function's
	// tail block, after its entry block found the stack short.
	prevEnd       uint64 // where the last block ended
	prevN, prev2N uint64
}

// Count reads a qemu log written with -d in_asm,exec,nochain. Every
// translated block is logged once with its instructions ("IN:" then one
// "0x<pc>:" line per instruction), and every execution of a block once
// ("Trace <cpu>: <host> [<cs_base>/<pc>/<flags>/<cflags>] <symbol>"), since
// nochain makes each block return to qemu's loop. A block that qemu
// stopped before its first instruction (an exit request, such as a signal
// to deliver) is logged as "Stopped execution of TB chain before <host>
// [<pc>]" after its Trace line, and did not run. Blocks end only at
// branches, system calls and page ends, so a block runs whole or not at
// all. A pc translated twice with different lengths would make the count
// ambiguous; Count then fails rather than guess.
//
// A benchmark's timed stretches are told by the entries of the testing
// package's timer methods, at the addresses syms gives: a StartTimer opens
// one and a ResetTimer restarts it, each when it returns (so their reading
// of the memory statistics is not counted), dropping what an open one
// held (a parent benchmark's, whose timer runs around its sub-benchmarks);
// a StopTimer closes it. B.run1 starts the next benchmark; one that closed
// no stretch had sub-benchmarks and is not listed. Sysmon's preemptions are
// left out: see Counts.Preemptions.
func Count(r io.Reader, syms *Symbols) (Counts, error) {
	if syms == nil {
		syms = &Symbols{}
	}
	entries := syms.Events
	c := Counts{PerCPU: map[int]uint64{}, Sysmon: -1}
	size := map[uint64]uint64{} // block pc -> instructions
	cpus := map[int]*cpuState{}
	var order []int // cpus in the order of their last Trace
	var (
		// arming is the cpu in StartTimer or ResetTimer (or -1): the
		// stretch opens when it returns.
		arming  = -1
		inTimer bool // arming's last block was in the timer method
		timerOn bool
		// A call to morestack is an excursion until the function that
		// called it resumes: a stack that grows (kept) or a preemption
		// (left out, with the two blocks that led to it, which run again).
		// One P runs Go code, so one excursion at a time.
		inExcursion, preempted bool
		excursion              map[int]uint64
		resume, leadIn         uint64
		leadCPU                int
		current                map[int]uint64 // the benchmark's timed instructions per cpu
		perBench               []map[int]uint64
	)
	closeBench := func() {
		if current != nil {
			perBench = append(perBench, current)
			current = nil
		}
	}
	dropPending := func() {
		for _, s := range cpus {
			s.pending = 0
		}
		inExcursion = false
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var (
		inBlock bool
		blockPC uint64
		blockN  uint64
		lineNo  int
	)
	endBlock := func() error {
		if !inBlock {
			return nil
		}
		inBlock = false
		if blockN == 0 {
			return nil
		}
		if old, ok := size[blockPC]; ok && old != blockN {
			return &LogError{Line: lineNo, Text: "IN:", Reason: fmt.Sprintf("pc %#x translated as %d and as %d instructions", blockPC, old, blockN)}
		}
		size[blockPC] = blockN
		return nil
	}
	finish := func() (Counts, error) {
		if err := endBlock(); err != nil {
			return c, err
		}
		closeBench()
		for _, m := range perBench {
			var n uint64
			for cpu, v := range m {
				if cpu != c.Sysmon {
					n += v
				}
			}
			c.Benchmarks = append(c.Benchmarks, n)
		}
		return c, nil
	}
	for {
		line, err := br.ReadSlice('\n')
		for err == bufio.ErrBufferFull {
			// Only a symbol can be this long; keep the line's start.
			_, err = br.ReadSlice('\n')
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return finish()
			}
			return c, err
		}
		lineNo++
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case bytes.HasPrefix(line, []byte("Trace ")):
			if err := endBlock(); err != nil {
				return c, err
			}
			cpu, pc, cflags, ok := parseTrace(line)
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "not a Trace line of qemu's exec log"}
			}
			n, ok := size[pc]
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: fmt.Sprintf("pc %#x ran before any block there was translated", pc)}
			}
			if m := cflags & cfCountMask; m != 0 && m < n {
				n = m
			}
			c.PerCPU[cpu] += n
			c.Blocks++
			s := cpus[cpu]
			if s == nil {
				s = &cpuState{}
				cpus[cpu] = s
			}
			switch entries[pc] {
			case EnterSysmon:
				if c.Sysmon < 0 {
					c.Sysmon = cpu
				}
			case EnterRun1:
				closeBench()
				timerOn = false
				dropPending()
			case EnterStartTimer:
				timerOn = true
				dropPending()
				arming, inTimer = cpu, true
			case EnterResetTimer:
				dropPending()
				if timerOn {
					arming, inTimer = cpu, true
				}
			case EnterStopTimer:
				if timerOn && arming < 0 {
					if current == nil {
						current = map[int]uint64{}
					}
					for k, v := range cpus {
						current[k] += v.pending
					}
				}
				timerOn = false
				arming = -1
				dropPending()
			case EnterMorestack:
				if timerOn && !inExcursion {
					inExcursion, preempted, excursion = true, false, map[int]uint64{}
					resume, leadIn, leadCPU = s.prevEnd, s.prevN+s.prev2N, cpu
				}
			case EnterGosched:
				preempted = true
			}
			resumed := false // the preempted function resumes here
			if inExcursion && pc == resume {
				inExcursion = false
				if preempted {
					c.Preemptions++
					resumed = true
					if l := cpus[leadCPU]; l.pending >= leadIn {
						l.pending -= leadIn
					}
				} else {
					for k, v := range excursion {
						cpus[k].pending += v
					}
				}
			}
			s.prevEnd = pc + 4*n
			if arming == cpu && !inExcursion && entries[pc] != EnterStartTimer && entries[pc] != EnterResetTimer {
				switch in := syms.inTimer(pc); {
				case in:
					inTimer = true
				case inTimer && !syms.Funcs[pc]:
					arming = -1 // returned: this block is the stretch's first
				default:
					inTimer = false // a call from the timer method
				}
			}
			s.lastPC = pc
			switch {
			case !timerOn || arming >= 0 || resumed:
				s.lastBucket = untimed
			case inExcursion:
				excursion[cpu] += n
				s.lastBucket = inAnExcursion
			default:
				s.pending += n
				s.lastBucket = timed
			}
			s.prev2N, s.prevN = s.prevN, 0
			if s.lastBucket == timed {
				s.prevN = n
			}
			order = moveLast(order, cpu)
		case bytes.HasPrefix(line, []byte("Stopped execution of TB chain before ")):
			pc, ok := parseStopped(line)
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "not a Stopped line of qemu's exec log"}
			}
			// The line names no CPU: it is the most recent one whose last
			// block was this one.
			var s *cpuState
			cpu := -1
			for i := len(order) - 1; i >= 0; i-- {
				if t := cpus[order[i]]; t.lastPC == pc {
					s, cpu = t, order[i]
					break
				}
			}
			if s == nil {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "no thread's last block starts there"}
			}
			n := size[pc]
			c.PerCPU[cpu] -= n
			c.Blocks--
			switch s.lastBucket {
			case timed:
				s.pending -= n
			case inAnExcursion:
				excursion[cpu] -= n
			}
			s.lastPC, s.lastBucket = ^uint64(0), untimed
		case bytes.HasPrefix(line, []byte("IN:")):
			if err := endBlock(); err != nil {
				return c, err
			}
			inBlock, blockN, blockPC = true, 0, 0
		case inBlock && bytes.HasPrefix(line, []byte("0x")):
			if blockN == 0 {
				i := bytes.IndexByte(line, ':')
				if i < 0 {
					return c, &LogError{Line: lineNo, Text: string(line), Reason: "an instruction line without its address"}
				}
				pc, err := strconv.ParseUint(string(line[2:i]), 16, 64)
				if err != nil {
					return c, &LogError{Line: lineNo, Text: string(line), Reason: "an instruction line without its address"}
				}
				blockPC = pc
			}
			blockN++
		default:
			if err := endBlock(); err != nil {
				return c, err
			}
		}
		if err == io.EOF {
			return finish()
		}
	}
}

// moveLast puts cpu at the end of order.
func moveLast(order []int, cpu int) []int {
	if n := len(order); n > 0 && order[n-1] == cpu {
		return order
	}
	for i, v := range order {
		if v == cpu {
			order = append(order[:i], order[i+1:]...)
			break
		}
	}
	return append(order, cpu)
}

// parseTrace reads "Trace 0: 0x7f.. [00000480/000b2f5c/00000000/00000200] sym".
func parseTrace(line []byte) (cpu int, pc uint64, cflags uint64, ok bool) {
	rest := line[len("Trace "):]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return 0, 0, 0, false
	}
	cpu, err := strconv.Atoi(string(rest[:i]))
	if err != nil || cpu < 0 {
		return 0, 0, 0, false
	}
	fields, _, ok := bracket(rest[i+1:])
	if !ok {
		return 0, 0, 0, false
	}
	parts := bytes.Split(fields, []byte("/"))
	if len(parts) != 4 {
		return 0, 0, 0, false
	}
	pc, err1 := strconv.ParseUint(string(parts[1]), 16, 64)
	cflags, err2 := strconv.ParseUint(string(parts[3]), 16, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	return cpu, pc, cflags, true
}

// parseStopped reads "Stopped execution of TB chain before 0x7f.. [000713e8] sym".
func parseStopped(line []byte) (pc uint64, ok bool) {
	fields, _, ok := bracket(line)
	if !ok {
		return 0, false
	}
	pc, err := strconv.ParseUint(string(fields), 16, 64)
	return pc, err == nil
}

// bracket splits "... [inside] after" into inside and after.
func bracket(b []byte) (inside, after []byte, ok bool) {
	i := bytes.IndexByte(b, '[')
	j := bytes.IndexByte(b, ']')
	if i < 0 || j < i {
		return nil, nil, false
	}
	return b[i+1 : j], bytes.TrimSpace(b[j+1:]), true
}
