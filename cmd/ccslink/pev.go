package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/proto/v2gpki"
)

func init() {
	register(command{
		name:    "pev",
		summary: "play one simulated car on a real interface: SLAC, SDP and its V2G session",
		run:     runPEV,
	})
}

// pevReport is the --json line of ccslink pev.
type pevReport struct {
	OK         bool   `json:"ok"`
	Car        string `json:"car"`
	Protocol   string `json:"protocol,omitempty"`
	EVCCID     string `json:"evccid,omitempty"`
	SoC        int    `json:"soc"`
	FullSoC    int    `json:"full_soc"`
	CapacityWh int64  `json:"energy_capacity_wh"`
	RequestWh  int64  `json:"energy_request_wh"`
	Charger    string `json:"charger,omitempty"`
	TLS        string `json:"tls,omitempty"` // "1.2", "1.3": the V2G connection's TLS
	Steps      int    `json:"steps"`
	End        string `json:"end,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

func runPEV(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("pev", "pev --iface IF [--car NAME] [--emulate-modem] [--think DURATION] [--json] [--timeout 3m]", stderr)
	iface := fs.String("iface", "", "network interface of the car's HomePlug modem")
	carName := fs.String("car", "ioniq", "the car: "+strings.Join(carNames(), ", "))
	emulate := fs.Bool("emulate-modem", false, "emulate the modem on the interface (a veth pair then acts as two modems on a cable)")
	asJSON := fs.Bool("json", false, "print the result as one JSON line")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long (the standards let a charger take 60 s to offer its parameters, 38 s for its isolation check and 7 s to pre-charge)")
	think := fs.Duration("think", 0, "wait this long between an answer and the car's next request (default: the car's own, from its captures)")
	verbose := fs.Bool("v", false, "log every step to stderr")
	tlsRoot := fs.String("tls-root", "", "for a car that asks for TLS (iso20-ac-tls): the `PEM file` of the V2G root it trusts (ccslink pki init writes v2gRootCACert.pem); without it the car checks nothing")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink pev: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *iface == "" {
		fmt.Fprintf(stderr, "ccslink pev: --iface is missing: give the network interface of the car's modem, e.g. --iface eth1 (with --emulate-modem, one end of a veth pair)\n")
		return 2
	}
	p, err := evcc.Lookup(*carName)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink pev: --car: %v\n", err)
		return 2
	}
	if !p.AfterSoC.Talks() {
		fmt.Fprintf(stderr, "ccslink pev: --car %s: this car never starts SLAC (%s), so there is nothing for pev to send; ccslink sim --car %s shows what it does\n", p.Name, p.AfterSoC, p.Name)
		return 2
	}
	if *think < 0 {
		fmt.Fprintf(stderr, "ccslink pev: --think %v: a time to wait cannot be negative\n", *think)
		return 2
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "think" {
			p.Think = *think
		}
	})
	var roots *x509.CertPool
	if *tlsRoot != "" {
		if roots, err = v2gpki.LoadRoots(*tlsRoot, v2gpki.ForCharger); err != nil {
			fmt.Fprintf(stderr, "ccslink pev: --tls-root: %v\n", err)
			return 2
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	if p.TLS && roots == nil {
		log.Warn("the car asks for TLS and checks nothing of the charger's certificate: give --tls-root FILE to check its chain")
	}
	rep, err := playPEV(ctx, *iface, p, *emulate, roots, log)
	rep.Car, rep.DurationMS = p.Name, time.Since(start).Milliseconds()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("the car's session did not finish within %v", *timeout)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	rep.OK = err == nil
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	} else if rep.OK {
		fmt.Fprintf(stdout, "%s: %s session with the charger at %s, %d requests, ended: %s\n", p.Car, rep.Protocol, rep.Charger, rep.Steps, rep.End)
	} else {
		fmt.Fprintf(stdout, "%s: no session: %s\n", p.Car, rep.Error)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ccslink pev: %v\n", err)
		return 1
	}
	return 0
}

func playPEV(ctx context.Context, iface string, p evcc.Profile, emulate bool, roots *x509.CertPool, log *slog.Logger) (pevReport, error) {
	rep := pevReport{SoC: -1, FullSoC: -1, CapacityWh: -1, RequestWh: -1}
	hp, mac, emu, closeHP, err := homePlugPort(ctx, iface, emulate, false)
	if err != nil {
		return rep, err
	}
	defer closeHP()
	// The car's EVCCID is its interface's MAC, unless the profile draws one per session.
	evccid := [6]byte(mac)
	if p.RandomMAC {
		evccid = p.SessionMAC()
	}
	var matched slac.Result
	for {
		matched, err = slac.MatchPEV(ctx, hp, clock.Real{}, slac.PEVConfig{MAC: mac, RunID: homeplug.RunID(p.SLACRunID()), Log: log})
		if err == nil || ctx.Err() != nil {
			break
		}
		log.Info("matching failed, starting again", "err", err)
	}
	if err != nil {
		return rep, fmt.Errorf("SLAC: %w", err)
	}
	if emu != nil {
		if err := awaitJoin(ctx, emu, slac.TTMatchJoin, mac, matched.EVSEMAC); err != nil {
			if ctx.Err() != nil {
				return rep, fmt.Errorf("SLAC matched charger %v, but the car's modem did not join its network before the time was up", matched.EVSEMAC)
			}
			return rep, fmt.Errorf("SLAC matched charger %v, but the car's modem did not join its network within TT_match_join (%v)", matched.EVSEMAC, slac.TTMatchJoin)
		}
	}
	ll, err := sdp.LinkLocal(iface)
	if err != nil {
		return rep, err
	}
	udp, err := sdp.Listen(iface, 0)
	if err != nil {
		return rep, err
	}
	defer udp.Close()
	resp, err := sdp.Discover(ctx, udp, nil, sdp.ClientConfig{Interface: iface, TLS: p.TLS, Log: log})
	if err != nil {
		return rep, err
	}
	rep.Charger = resp.Addr.String()
	conn, cs, err := evcc.DialV2G(ctx, &net.Dialer{LocalAddr: &net.TCPAddr{IP: ll.AsSlice(), Zone: iface}}, resp, p.TLS, roots)
	if err != nil {
		return rep, err
	}
	defer conn.Close()
	if cs != nil {
		rep.TLS = strings.TrimPrefix(tls.VersionName(cs.Version), "TLS ")
	}
	res, err := evcc.Run(ctx, conn, evcc.Config{Profile: p, EVCCID: evccid, Paced: true, Log: log})
	rep.Protocol, rep.Steps, rep.End = res.Protocol, len(res.Steps), res.End.String()
	rep.EVCCID = hex.EncodeToString(res.Sent.EVCCID[:])
	rep.SoC, rep.FullSoC, rep.CapacityWh, rep.RequestWh = res.Sent.SoC, res.Sent.FullSOC, res.Sent.CapacityWh, res.Sent.RequestWh
	return rep, err
}
