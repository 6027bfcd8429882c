package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ccslink/ccslink/daemon/config"
)

func init() {
	register(command{
		name:    "config",
		summary: "check a configuration file, import a pyPLC.ini, print the example",
		run:     runConfig,
	})
}

const configUsage = `Usage:
  ccslink config check FILE          check FILE (YAML, or a pyPLC.ini): every error with its line
  ccslink config import-pyplc FILE   print a pyPLC.ini as ccslink's YAML; stderr names what has no equivalent
  ccslink config example             print the commented example with the defaults
  ccslink config show FILE           print FILE as ccslink reads it, its secrets hidden (for bug reports)

The daemon reads ` + config.DefaultPath + ` unless told otherwise.
`

func runConfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	file := func() (string, bool) {
		if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
			fmt.Fprintf(stderr, "ccslink config %s: give one FILE\n\n%s", sub, configUsage)
			return "", false
		}
		return args[0], true
	}
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	case "example":
		if len(args) != 0 {
			fmt.Fprintf(stderr, "ccslink config example takes no arguments\n\n%s", configUsage)
			return 2
		}
		stdout.Write(config.Default().YAML())
		return 0
	case "check":
		name, ok := file()
		if !ok {
			return 2
		}
		if _, err := config.Load(name); err != nil {
			printConfigError(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "ok: %s\n", name)
		return 0
	case "show":
		name, ok := file()
		if !ok {
			return 2
		}
		c, err := config.Load(name)
		if err != nil {
			printConfigError(stderr, err)
			return 1
		}
		stdout.Write(c.Redacted().YAML())
		return 0
	case "import-pyplc":
		name, ok := file()
		if !ok {
			return 2
		}
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "ccslink config import-pyplc: cannot read the pyPLC.ini: %v\n", err)
			return 1
		}
		c, notes, err := config.FromPyPLC(data)
		// every key: how it was mapped, or that it has no equivalent
		for _, n := range notes {
			if n.Line > 0 {
				fmt.Fprintf(stderr, "%s:%d: %s = %s: %s\n", name, n.Line, n.Key, n.Value, n.Msg)
			} else {
				fmt.Fprintf(stderr, "%s: %s: %s\n", name, n.Key, n.Msg)
			}
		}
		if err != nil {
			var l config.Errors
			if errors.As(err, &l) {
				for _, e := range l {
					e.File = name
				}
			}
			printConfigError(stderr, err)
			return 1
		}
		stdout.Write(c.YAML())
		return 0
	}
	fmt.Fprintf(stderr, "ccslink config: unknown subcommand %q\n\n%s", sub, configUsage)
	return 2
}

// printConfigError prints each error of a configuration on its own line.
func printConfigError(w io.Writer, err error) {
	var l config.Errors
	if errors.As(err, &l) {
		for _, e := range l {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}
