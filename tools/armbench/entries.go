package main

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"strings"
)

// Event is what the entry to a function means to Count.
type Event int

const (
	None Event = iota
	EnterSysmon
	EnterRun1       // testing.(*B).run1: the next benchmark
	EnterStartTimer // a timed stretch opens
	EnterResetTimer // it restarts
	EnterStopTimer  // it closes
	EnterMorestack  // a stack grows, or the goroutine is preempted
	EnterGosched    // ... preempted
	EnterGogo       // a goroutine resumes
)

// entrySymbols are the functions Count watches; assembly functions may
// carry an ABI suffix in the ELF symbols.
var entrySymbols = map[string]Event{
	"runtime.sysmon":           EnterSysmon,
	"testing.(*B).run1":        EnterRun1,
	"testing.(*B).StartTimer":  EnterStartTimer,
	"testing.(*B).ResetTimer":  EnterResetTimer,
	"testing.(*B).StopTimer":   EnterStopTimer,
	"runtime.morestack":        EnterMorestack,
	"runtime.morestack_noctxt": EnterMorestack,
	"runtime.goschedImpl":      EnterGosched,
	"runtime.gopreempt_m":      EnterGosched,
	"gogo":                     EnterGogo,
}

// SymbolError is a test binary without a symbol Count needs.
type SymbolError struct {
	Binary string
	Symbol string
	Err    error
}

func (e *SymbolError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("reading the symbols of %s: %v", e.Binary, e.Err)
	}
	return fmt.Sprintf("%s has no symbol %s: build it with its symbols (no -ldflags=-s), with a Go whose testing and runtime have it", e.Binary, e.Symbol)
}

// Symbols is what Count needs to know of a binary's functions.
type Symbols struct {
	// Events holds the entries of the functions Count watches.
	Events map[uint64]Event
	// Funcs holds every function's entry: a block there is a call, a
	// block elsewhere after a function's last is its return.
	Funcs map[uint64]bool
	// Timers holds the address ranges of StartTimer and ResetTimer: a
	// stretch opens when they return, so their reading of the memory
	// statistics is not counted.
	Timers [][2]uint64
}

// inTimer says whether pc is in StartTimer or ResetTimer.
func (s *Symbols) inTimer(pc uint64) bool {
	for _, r := range s.Timers {
		if pc >= r[0] && pc < r[1] {
			return true
		}
	}
	return false
}

// ReadSymbols reads the functions Count needs from a Go ELF binary's
// function table (.gopclntab), which names every function, assembly ones
// too, where the ELF symbols leave some out.
func ReadSymbols(bin string) (*Symbols, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, &SymbolError{Binary: bin, Err: err}
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return nil, &SymbolError{Binary: bin, Symbol: ".gopclntab"}
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, &SymbolError{Binary: bin, Err: err}
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, &SymbolError{Binary: bin, Err: err}
	}
	out := &Symbols{Events: map[uint64]Event{}, Funcs: map[uint64]bool{}}
	found := map[string]bool{}
	for _, fn := range tab.Funcs {
		out.Funcs[fn.Entry] = true
		name := strings.TrimSuffix(fn.Name, ".abi0")
		ev, ok := entrySymbols[name]
		if !ok {
			continue
		}
		out.Events[fn.Entry] = ev
		found[name] = true
		if ev == EnterStartTimer || ev == EnterResetTimer {
			out.Timers = append(out.Timers, [2]uint64{fn.Entry, fn.End})
		}
	}
	for name := range entrySymbols {
		if !found[name] && name != "runtime.gopreempt_m" { // often inlined
			return nil, &SymbolError{Binary: bin, Symbol: name}
		}
	}
	return out, nil
}
