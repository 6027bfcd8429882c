package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/ccslink/ccslink/proto/v2gpki"
)

func init() {
	register(command{
		name:    "pki",
		summary: "a test certificate chain for V2G over TLS (benches and tests): pki init DIR [--evseid ID] [--curve p256|p521]",
		run:     runPKI,
	})
}

func runPKI(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("pki", "pki init DIR [--evseid ID] [--curve p256|p521] [--config FILE]", stderr)
	evseID := fs.String("evseid", "", "the EVSEID in the SECC certificate's subject (default: the configuration's evse_id, else "+v2gpki.DefaultEVSEID+", the charger's own)")
	cfgPath := fs.String("config", defaultConfig, "the daemon's configuration file, for its evse_id")
	curveName := fs.String("curve", "p256", "the curve of every key: p256 (secp256r1, ECDSA-SHA256) as ISO 15118-2 asks, serving TLS 1.2 and 1.3; p521 (secp521r1, ECDSA-SHA512) as ISO 15118-20 asks, serving TLS 1.3 alone")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	// Flags may follow DIR as well: ccslink pki init DIR --evseid ID.
	var pos []string
	for rest := fs.Args(); len(rest) > 0; rest = fs.Args() {
		pos = append(pos, rest[0])
		if code, ok := parseFlags(fs, rest[1:]); !ok {
			return code
		}
	}
	if len(pos) == 0 {
		fmt.Fprintf(stderr, "ccslink pki: what to do is missing: give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n")
		return 2
	}
	if len(pos) != 2 || pos[0] != "init" {
		fmt.Fprintf(stderr, "ccslink pki: unexpected %q: give init DIR, e.g. ccslink pki init /etc/ccslink/pki\n", strings.Join(pos, " "))
		return 2
	}
	dir := pos[1]
	curve, err := v2gpki.ParseCurve(*curveName)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink pki: --curve: %v\n", err)
		return 2
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	id := *evseID
	if id == "" {
		cfg, err := loadConfig(*cfgPath, explicit)
		if err != nil {
			fmt.Fprintf(stderr, "ccslink pki: %v\n", err)
			return 2
		}
		id = cfg.EVSEID
	}
	if err := v2gpki.InitCurve(dir, id, curve); err != nil {
		fmt.Fprintf(stderr, "ccslink pki: %v\n", err)
		return 1
	}
	c, err := v2gpki.Load(dir)
	if err != nil { // a chain just made that does not load is a defect; say so
		fmt.Fprintf(stderr, "ccslink pki: the new chain does not load: %v\n", err)
		return 1
	}
	p := func(f string, a ...any) { fmt.Fprintf(stdout, f, a...) }
	p("a test chain for EVSEID %s in %s on %s (%s's certificates), valid until %s:\n", c.EVSEID(), dir, c.Curve.Standard(), c.Curve.Edition(), c.NotAfter().UTC().Format(time.DateOnly))
	p("  %-20s the V2G root: a test car (or openssl s_client -CAfile) trusts this one\n", v2gpki.RootFile)
	p("  %-20s the SECC certificate, then CPO Sub-CA 2 and CPO Sub-CA 1: sent to the car\n", v2gpki.ChainFile)
	p("  %-20s the SECC certificate's key (mode 0600)\n", v2gpki.KeyFile)
	p("serve V2G over TLS with it: ccslink evse --tls %s\n", filepath.Clean(dir))
	if c.Curve == v2gpki.P521 {
		p("on secp521r1 it serves ISO 15118-20's TLS 1.3 alone; an ISO 15118-2 car (TLS 1.2) needs a chain made with --curve p256\n")
	}
	p("a car that checks the chain against the real V2G root refuses this one; such a car needs your CPO's chain in these three files\n")
	return 0
}
