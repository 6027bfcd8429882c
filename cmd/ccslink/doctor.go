package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ccslink/ccslink/tools/doctor"
)

func init() {
	register(command{
		name:    "doctor",
		summary: "check that this host can run the charger: interface, driver, IPv6, permissions, modem, SDP port, outputs, SmartEVSE",
		run:     runDoctor,
	})
}

func runDoctor(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("doctor", "doctor [--config FILE] [--iface IF] [--emulate-modem] [--smartevse URL] [--json]", stderr)
	cfgPath := fs.String("config", defaultConfig, "the configuration file the charger runs with (YAML, or a pyPLC.ini); flags override it")
	iface := fs.String("iface", "", "network interface of the HomePlug modem (default: the configuration's, eth1)")
	emulate := fs.Bool("emulate-modem", false, "check with an emulated modem on the interface, as evse --emulate-modem runs")
	url := fs.String("smartevse", "", "the SmartEVSE's URL, as given to evse (default: the configuration's): it is asked for GET /settings, never posted to")
	timeout := fs.Duration("timeout", doctor.DefaultTimeout, "how long to wait for each answer (the modem's, the SmartEVSE's)")
	asJSON := fs.Bool("json", false, "print the checks as one JSON object")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink doctor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	cfg, err := loadConfig(*cfgPath, explicit)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink doctor: %v\n", err)
		return 2
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "iface":
			cfg.Interface = *iface
		case "emulate-modem":
			cfg.EmulateModem = *emulate
		case "smartevse":
			cfg.SmartEVSE.URL = *url
		}
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	checks := doctorChecks(ctx, cfg, *timeout)
	failed := doctor.Failed(checks)
	if *asJSON {
		if checks == nil {
			checks = []doctor.Check{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // the fixes quote shell commands with < and >
		enc.Encode(struct {
			OK     bool           `json:"ok"`
			Checks []doctor.Check `json:"checks"`
		}{!failed, checks})
	} else {
		writeChecks(stdout, checks)
	}
	if failed {
		return 1
	}
	return 0
}

// writeChecks prints one line per check, its fix below it, and a summary.
func writeChecks(w io.Writer, checks []doctor.Check) {
	var fails, warns int
	for _, c := range checks {
		fmt.Fprintf(w, "%-4s  %-14s  %s\n", c.Status, c.Name, c.Found)
		if c.Fix != "" {
			fmt.Fprintf(w, "%-4s  %-14s  fix: %s\n", "", "", c.Fix)
		}
		switch c.Status {
		case doctor.Fail:
			fails++
		case doctor.Warn:
			warns++
		}
	}
	switch {
	case fails > 0:
		fmt.Fprintf(w, "%s failed\n", plural(fails, "check"))
	case warns > 0:
		fmt.Fprintf(w, "all checks passed (%s)\n", plural(warns, "warning"))
	default:
		fmt.Fprintln(w, "all checks passed")
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
