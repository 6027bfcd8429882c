// Command ouigen writes package vehicle's maker table (see package ouigen).
//
//	ouigen -ieee /usr/share/ieee-data -o oui_table.go
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ccslink/ccslink/daemon/vehicle/internal/ouigen"
)

func main() {
	dir := flag.String("ieee", "/usr/share/ieee-data", "the directory of Debian's ieee-data")
	out := flag.String("o", "oui_table.go", "the Go file to write")
	flag.Parse()
	src, err := ouigen.Generate(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "ouigen:", err)
		os.Exit(1)
	}
}
