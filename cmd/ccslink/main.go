// Command ccslink talks to an electric car through its charging cable:
// SLAC, SDP, V2GTP and the EXI-coded ISO 15118 / DIN 70121 messages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/ccslink/ccslink/internal/logging"
)

// command is one subcommand of ccslink. Each lives in its own file and
// registers itself in init, so adding one never touches this file.
type command struct {
	name    string
	summary string
	// run parses args with its own FlagSet and returns the exit status.
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// In the journal, the commands' own lines on stderr are errors (<3>).
	stderr = logging.New(stderr)
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"-h"}, stdin, stdout, stderr)
			}
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ccslink: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "ccslink talks to an electric car through its charging cable (HomePlug Green PHY, ISO 15118).")
	fmt.Fprintln(w, "\nUsage: ccslink <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'ccslink <command> -h' for the flags of a command.")
}

// newLogger returns a command's logger on stderr at level: slog's text
// format, or, when stderr is the journal, lines with their priority and
// without a time of their own.
func newLogger(stderr io.Writer, level slog.Leveler) *slog.Logger {
	if s, ok := stderr.(*logging.Stderr); ok {
		return s.Logger(level)
	}
	return logging.New(stderr).Logger(level)
}

// newFlagSet returns a FlagSet that prints its usage to stderr and never exits.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ccslink %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns the exit status to use and false when
// the command should stop (help was asked for, or the flags were wrong).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0, false
	}
	if err != nil {
		return 2, false
	}
	return 0, true
}
