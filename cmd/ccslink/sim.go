package main

import (
	"fmt"
	"io"
)

func init() {
	register(command{
		name:    "sim",
		summary: "run a complete simulated plug-in (virtual modems, car and charger)",
		run:     runSim,
	})
}

func runSim(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", "sim", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintln(stdout, "ccslink sim: the simulated plug-in (SLAC, SDP, V2G, SoC) is not built yet;")
	fmt.Fprintln(stdout, "today ccslink can decode and encode V2G EXI messages: see 'ccslink help'.")
	return 0
}
