// Command exigen writes the EXI codec packages under v2g from the V2G XML
// schemas. It runs through go generate in v2g.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ccslink/ccslink/internal/exigen"
)

func main() {
	schemas := flag.String("schemas", "../../shared/schemas", "directory of the V2G XSDs (shared/schemas)")
	out := flag.String("out", ".", "output directory (the v2g package directory)")
	flag.Parse()
	if env := os.Getenv("CCSLINK_SHARED"); env != "" && !isSet("schemas") {
		*schemas = env + "/schemas"
	}
	files, err := exigen.GenerateAll(*schemas, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "exigen:", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println("exigen: wrote", f)
	}
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
