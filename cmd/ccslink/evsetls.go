package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/proto/v2gpki"
)

// tlsFlags are evse's TLS flags.
type tlsFlags struct {
	dir, carRoot, keyLog string
	port                 int
}

// tlsFlagError reports TLS flags that do not go together.
type tlsFlagError struct{ why string }

func (e *tlsFlagError) Error() string { return e.why }

// evseTLS checks the chain in f.dir as the daemon starts and returns the
// SECC's TLS configuration and the chain (nil without --tls), and what
// closes the key log. Both ISO 15118 editions are served (a P-521 chain
// serves -20 alone): SDP does not say which one a car speaks, and its TLS
// version does. The daemon watches the chain's expiry while it runs.
func evseTLS(f tlsFlags, cfg config.Config, log *slog.Logger) (*tls.Config, *v2gpki.Chain, func(), error) {
	none := func() {}
	if f.dir == "" {
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
	chain, err := v2gpki.Load(f.dir)
	if err != nil {
		return nil, nil, none, fmt.Errorf("--tls %s: %w", f.dir, err)
	}
	evseID := cfg.EVSEID
	if evseID == "" {
		evseID = v2gpki.DefaultEVSEID
	}
	if chain.EVSEID() != evseID {
		log.Warn(fmt.Sprintf("the SECC certificate names EVSEID %s, and the charger answers with %s: a car that compares them may refuse; give --evseid %s, or make a chain for %s", chain.EVSEID(), evseID, chain.EVSEID(), evseID))
	}
	o := v2gpki.Options{Profile: v2gpki.Both}
	served := "1.2 (ISO 15118-2) and 1.3 (-20)"
	if p, _ := chain.Serves(o.Profile); p == v2gpki.ISO20 {
		served = "1.3 (-20) alone"
		log.Warn(fmt.Sprintf("the chain is on %s, ISO 15118-20's: V2G over TLS is served as TLS 1.3 alone, and a car that asks for ISO 15118-2's TLS 1.2 is refused at the handshake; for such cars make a chain with ccslink pki init DIR --curve p256, or install your CPO's -2 chain", chain.Curve.Standard()))
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
	tc, err := chain.ServerConfig(o)
	if err != nil {
		closeLog()
		return nil, nil, none, err
	}
	log.Info("serving V2G over TLS too", "chain", f.dir, "evseid", chain.EVSEID(), "valid_until", chain.NotAfter().UTC().Format(time.DateOnly),
		"curve", chain.Curve.Standard(), "tls", served, "mutual", o.ClientRoots != nil)
	return tc, chain, closeLog, nil
}
