package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// Counts is what one run of a program under qemu executed, read from
// qemu's "-d in_asm,exec,nochain" log: guest instructions per virtual CPU
// (qemu-user gives each guest thread a CPU of its own).
type Counts struct {
	// PerCPU holds the instructions each guest thread executed.
	PerCPU map[int]uint64
	// Sysmon is the CPU that ran runtime.sysmon, or -1. Go's sysmon wakes
	// by the clock, and emulation slows the clock's work down a
	// hundredfold: its count says how long the run took, not what the
	// program did, so Program leaves it out.
	Sysmon int
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
func Count(r io.Reader) (Counts, error) {
	c := Counts{PerCPU: map[int]uint64{}, Sysmon: -1}
	size := map[uint64]uint64{} // block pc -> instructions
	last := map[int]uint64{}    // cpu -> pc of its last Trace
	var lastCPU []int           // cpus in the order of their last Trace
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
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Only a symbol can be this long; keep the line's start.
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				return c, endBlock()
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
			cpu, pc, cflags, sym, ok := parseTrace(line)
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "not a Trace line of qemu's exec log"}
			}
			n, ok := size[pc]
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: fmt.Sprintf("pc %#x ran before any block there was translated", pc)}
			}
			if m := uint64(cflags & cfCountMask); m != 0 && m < n {
				n = m
			}
			c.PerCPU[cpu] += n
			c.Blocks++
			if c.Sysmon < 0 && bytes.Equal(sym, []byte("runtime.sysmon")) {
				c.Sysmon = cpu
			}
			last[cpu] = pc
			lastCPU = moveLast(lastCPU, cpu)
		case bytes.HasPrefix(line, []byte("Stopped execution of TB chain before ")):
			pc, ok := parseStopped(line)
			if !ok {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "not a Stopped line of qemu's exec log"}
			}
			// The line names no CPU: it is the most recent one whose last
			// block was this one.
			cpu := -1
			for i := len(lastCPU) - 1; i >= 0; i-- {
				if last[lastCPU[i]] == pc {
					cpu = lastCPU[i]
					break
				}
			}
			if cpu < 0 {
				return c, &LogError{Line: lineNo, Text: string(line), Reason: "no thread's last block starts there"}
			}
			c.PerCPU[cpu] -= size[pc]
			c.Blocks--
			last[cpu] = ^uint64(0)
		case bytes.HasPrefix(line, []byte("IN:")):
			if err := endBlock(); err != nil {
				return c, err
			}
			inBlock, blockN, blockPC = true, 0, 0
		case inBlock && bytes.HasPrefix(line, []byte("0x")):
			if blockN == 0 {
				i := bytes.IndexByte(line, ':')
				pc, err := strconv.ParseUint(string(line[2:max(i, 2)]), 16, 64)
				if i < 0 || err != nil {
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
			return c, endBlock()
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
func parseTrace(line []byte) (cpu int, pc uint64, cflags uint64, sym []byte, ok bool) {
	rest := line[len("Trace "):]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return 0, 0, 0, nil, false
	}
	cpu, err := strconv.Atoi(string(rest[:i]))
	if err != nil || cpu < 0 {
		return 0, 0, 0, nil, false
	}
	fields, sym, ok := bracket(rest[i+1:])
	if !ok {
		return 0, 0, 0, nil, false
	}
	parts := bytes.Split(fields, []byte("/"))
	if len(parts) != 4 {
		return 0, 0, 0, nil, false
	}
	pc, err1 := strconv.ParseUint(string(parts[1]), 16, 64)
	cflags, err2 := strconv.ParseUint(string(parts[3]), 16, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, 0, nil, false
	}
	return cpu, pc, cflags, sym, true
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
