package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/proto/v2gpki"
)

// tlsFlags are evse's TLS flags.
type tlsFlags struct {
	dirs            []string // --tls, once per chain
	carRoot, keyLog string
	port            int
}

// dirsFlag is a flag given once per directory: --tls DIR --tls DIR2.
type dirsFlag []string

func (d *dirsFlag) String() string { return strings.Join(*d, ",") }

// Set adds a directory; an empty one is none, as a single --tls "" was.
func (d *dirsFlag) Set(s string) error {
	if s != "" {
		*d = append(*d, s)
	}
	return nil
}

// tlsFlagError reports TLS flags that do not go together.
type tlsFlagError struct{ why string }

func (e *tlsFlagError) Error() string { return e.why }

// evseTLS checks the chains in f.dirs as the daemon starts and returns the
// SECC's TLS configuration and the chains (none without --tls), and what
// closes the key log. Both ISO 15118 editions are served (a P-521 chain
// alone serves -20 alone): SDP does not say which one a car speaks, and
// its ClientHello does. With a chain on each curve every car gets its
// edition's (v2gpki.Set). The daemon watches the chains' expiry while it
// runs.
func evseTLS(f tlsFlags, cfg config.Config, log *slog.Logger) (*tls.Config, []*v2gpki.Chain, func(), error) {
	none := func() {}
	if len(f.dirs) == 0 {
		for _, x := range []struct{ name, v string }{{"--tls-car-root", f.carRoot}, {"--tls-keylog", f.keyLog}} {
			if x.v != "" {
				return nil, nil, none, &tlsFlagError{x.name + " needs --tls DIR: the certificate chain to serve V2G over TLS with"}
			}
		}
		if f.port != 0 {
			return nil, nil, none, &tlsFlagError{"--tls-port needs --tls DIR: the certificate chain to serve V2G over TLS with"}
		}
		return nil, nil, none, nil
	}
	if f.port < 0 || f.port > 65535 || f.port != 0 && f.port == cfg.V2GPort {
		return nil, nil, none, &tlsFlagError{fmt.Sprintf("--tls-port %d: give a free TCP port other than the plain V2G port (%d), or 0 for any", f.port, cfg.V2GPort)}
	}
	var chains []*v2gpki.Chain
	for i, dir := range f.dirs {
		if slices.Contains(f.dirs[:i], dir) {
			return nil, nil, none, &tlsFlagError{fmt.Sprintf("--tls %s is given twice: give each chain's directory once (one for ISO 15118-2 on secp256r1, one for -20 on secp521r1)", dir)}
		}
		chain, err := v2gpki.Load(dir)
		if err != nil {
			return nil, nil, none, fmt.Errorf("--tls %s: %w", dir, err)
		}
		chains = append(chains, chain)
	}
	set, err := v2gpki.NewSet(chains...)
	if err != nil {
		return nil, nil, none, fmt.Errorf("--tls: %w", err)
	}
	chains = set.Chains()
	evseID := cfg.EVSEID
	if evseID == "" {
		evseID = v2gpki.DefaultEVSEID
	}
	for _, chain := range chains {
		if chain.EVSEID() == evseID {
			continue
		}
		in := ""
		if len(chains) > 1 {
			in = " in " + filepath.Join(chain.Dir, v2gpki.ChainFile)
		}
		log.Warn(fmt.Sprintf("the SECC certificate%s names EVSEID %s, and the charger answers with %s: a car that compares them may refuse; give --evseid %s, or make a chain for %s", in, chain.EVSEID(), evseID, chain.EVSEID(), evseID))
	}
	o := v2gpki.Options{Profile: v2gpki.Both}
	served := "1.2 (ISO 15118-2) and 1.3 (-20)"
	if set.On(v2gpki.P256) == nil {
		served = "1.3 (-20) alone"
		log.Warn(fmt.Sprintf("the chain is on %s, ISO 15118-20's: V2G over TLS is served as TLS 1.3 alone, and a car that asks for ISO 15118-2's TLS 1.2 is refused at the handshake; for such cars make a chain with ccslink pki init DIR --curve p256, or install your CPO's -2 chain", chains[0].Curve.Standard()))
	}
	if f.carRoot != "" {
		if o.ClientRoots, err = v2gpki.LoadRoots(f.carRoot, v2gpki.ForCars); err != nil {
			return nil, nil, none, fmt.Errorf("--tls-car-root: %w", err)
		}
	}
	closeLog := none
	// The key log is off unless asked for: --tls-keylog, or the
	// SSLKEYLOGFILE that TLS tools honour (the flag wins).
	keyLog, from := f.keyLog, "--tls-keylog"
	if keyLog == "" {
		keyLog, from = os.Getenv("SSLKEYLOGFILE"), "SSLKEYLOGFILE"
	}
	if keyLog != "" {
		kl, err := v2gpki.OpenKeyLog(keyLog)
		if err != nil {
			return nil, nil, none, fmt.Errorf("%s: %w", from, err)
		}
		o.KeyLog, closeLog = kl, func() { kl.Close() }
		log.Warn("writing the TLS sessions' secrets: whoever reads the file can decrypt the V2G sessions it covers; delete it after the bug report", "file", keyLog, "from", from)
	}
	tc, err := set.ServerConfig(o)
	if err != nil {
		closeLog()
		return nil, nil, none, err
	}
	if len(chains) == 1 {
		chain := chains[0]
		log.Info("serving V2G over TLS too", "chain", chain.Dir, "evseid", chain.EVSEID(), "valid_until", chain.NotAfter().UTC().Format(time.DateOnly),
			"curve", chain.Curve.Standard(), "tls", served, "mutual", o.ClientRoots != nil)
		return tc, chains, closeLog, nil
	}
	// One group per chain, named by its curve, saying which cars get it.
	what := map[v2gpki.Curve]string{
		v2gpki.P256: "1.2 (ISO 15118-2), and 1.3 (-20) to cars that do not offer ecdsa_secp521r1_sha512",
		v2gpki.P521: "1.3 (-20) to cars that offer ecdsa_secp521r1_sha512",
	}
	attrs := make([]any, 0, len(chains)+1)
	for _, chain := range chains {
		attrs = append(attrs, slog.Group(chain.Curve.Standard(), "chain", chain.Dir, "evseid", chain.EVSEID(),
			"valid_until", chain.NotAfter().UTC().Format(time.DateOnly), "tls", what[chain.Curve]))
	}
	log.Info("serving V2G over TLS too", append(attrs, "mutual", o.ClientRoots != nil)...)
	return tc, chains, closeLog, nil
}
