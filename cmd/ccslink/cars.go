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
	"github.com/ccslink/ccslink/daemon/vehicle"
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

// printCars lists the cars of mem, the most recently noted first, each
// with the strategy of its next plug-in in its own order (handover.For).
// A car known only by its fingerprint cannot have a strategy that acts
// before V2G: it gets the next of the others, and a note says how to
// have it.
func printCars(w io.Writer, cfg config.Config, mem *handover.Memory, path string) {
	cars := mem.Cars()
	if len(cars) == 0 {
		fmt.Fprintf(w, "no cars remembered in %s yet: a car is remembered once the SmartEVSE was watched after its SoC\n", path)
		return
	}
	rem := map[string]vehicle.Remembered{}
	if vm, err := vehicle.OpenMemory(filepath.Join(cfg.StateDir, vehicle.MemoryFile)); err == nil {
		for _, r := range vm.Cars() {
			rem[r.ID] = r
		}
	}
	available := daemon.Strategies(cfg)
	var notes []string
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAR\tNAME\tNEXT\tWHY\tTRIED (oldest outcome first)")
	for i := len(cars) - 1; i >= 0; i-- {
		c := cars[i]
		known, _ := cfg.CarByID(c.ID)
		vw, bySLAC := carMAC(c.ID, known, rem)
		order := handover.For(vw, available)
		next, why := handover.Choose(known.Strategy, &c, order)
		if handover.BeforeV2G(next) && !bySLAC {
			late := next
			next, why = handover.Choose("", &c, handover.SoCOnly(order))
			notes = append(notes, fmt.Sprintf("%s: its turn is %s, which acts before the car's V2G session, but the car is known only by its fingerprint once its session runs (its MAC is random): pin it with a MAC pattern in the cars list", c.ID, late))
		}
		var tried []string
		for _, t := range c.Tried {
			tried = append(tried, t.Strategy+": "+strings.Join(t.Outcomes, ", "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, orDash(known.Name), next, why, strings.Join(tried, "; "))
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
}

// carMAC tells from the cars list and the cars remembered whether the car
// id's MAC is VW group's, and whether the car is known by it at SLAC (a
// pattern of the cars list, or a fixed MAC), before its V2G session.
func carMAC(id string, known config.Car, rem map[string]vehicle.Remembered) (vw, bySLAC bool) {
	var macs []vehicle.MAC
	for _, p := range known.MACs {
		if v, _, ok := config.MACPattern(p); ok {
			macs, bySLAC = append(macs, vehicle.MAC(v)), true
		}
	}
	if r, ok := rem[id]; ok {
		for _, s := range r.MACs {
			if m, ok := vehicle.ParseMAC(s); ok {
				macs = append(macs, m)
			}
		}
		bySLAC = bySLAC || !r.Random
	} else if m, ok := vehicle.ParseMAC(id); ok {
		// A car first seen with a fixed MAC has that MAC as its ID.
		macs, bySLAC = append(macs, m), bySLAC || !m.Random()
	}
	for _, m := range macs {
		vw = vw || vehicle.VWGroup(m)
	}
	return vw, bySLAC
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
