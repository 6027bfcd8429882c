package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ccslink/ccslink/daemon"
	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/handover"
)

func init() {
	register(command{
		name:    "cars",
		summary: "the cars remembered: the handover strategies each tried, their outcomes, the one chosen next; forget one",
		run:     runCars,
	})
}

func runCars(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("cars", "cars [--config FILE] [--state-dir DIR] [forget ID]", stderr)
	cfgPath := fs.String("config", defaultConfig, "the daemon's configuration file (its cars list pins strategies)")
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default: the configuration's, /var/lib/ccslink)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	forget := ""
	switch {
	case fs.NArg() == 0:
	case fs.NArg() == 2 && fs.Arg(0) == "forget":
		forget = fs.Arg(1)
	default:
		fmt.Fprintf(stderr, "ccslink cars: unexpected %q: give nothing to list the cars, or forget ID\n", strings.Join(fs.Args(), " "))
		return 2
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	cfg, err := loadConfig(*cfgPath, explicit)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink cars: %v\n", err)
		return 1
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	path := filepath.Join(cfg.StateDir, handover.File)
	mem, err := handover.Open(path)
	var ce *handover.CorruptError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "ccslink cars: %v\n", err)
	case err != nil:
		fmt.Fprintf(stderr, "ccslink cars: %v\n", err)
		return 1
	}
	if forget != "" {
		if !mem.Forget(forget) {
			fmt.Fprintf(stderr, "ccslink cars: no car %q is remembered in %s; ccslink cars lists them\n", forget, path)
			return 1
		}
		if err := mem.Save(); err != nil {
			fmt.Fprintf(stderr, "ccslink cars: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "forgot %s: its next plug-in starts again from %s\n", forget, handover.Order[0])
		fmt.Fprintln(stdout, "a running daemon still remembers it: restart it (systemctl restart ccslink) to forget it there too")
		return 0
	}
	printCars(stdout, cfg, mem, path)
	return 0
}

// printCars lists the cars of mem, the most recently noted first.
func printCars(w io.Writer, cfg config.Config, mem *handover.Memory, path string) {
	cars := mem.Cars()
	if len(cars) == 0 {
		fmt.Fprintf(w, "no cars remembered in %s yet: a car is remembered once the SmartEVSE was watched after its SoC\n", path)
		return
	}
	available := daemon.Strategies(cfg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAR\tNAME\tNEXT\tWHY\tTRIED (oldest outcome first)")
	for i := len(cars) - 1; i >= 0; i-- {
		c := cars[i]
		known, _ := cfg.CarByID(c.ID)
		next, why := handover.Choose(known.Strategy, &c, available)
		var tried []string
		for _, t := range c.Tried {
			tried = append(tried, t.Strategy+": "+strings.Join(t.Outcomes, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, orDash(known.Name), next, why, strings.Join(tried, "; "))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
