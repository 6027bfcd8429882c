package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/replay"
)

func init() {
	register(command{
		name:    "replay",
		summary: "play the car's side of a captured V2G session against this charger",
		run:     runReplay,
	})
}

// replayReport is the --json line of ccslink replay; a value the car did
// not send is -1, as SmartEVSE counts it.
type replayReport struct {
	Capture          string `json:"capture"`
	Policy           string `json:"policy"`
	OK               bool   `json:"ok"`
	Protocol         string `json:"protocol,omitempty"`
	EVCCID           string `json:"evccid,omitempty"`
	SoC              int    `json:"soc"`
	FullSOC          int    `json:"full_soc"`
	EnergyCapacityWh int    `json:"energy_capacity_wh"`
	EnergyRequestWh  int    `json:"energy_request_wh"`
	Steps            int    `json:"steps"`
	End              string `json:"end,omitempty"`
	Sessions         int    `json:"sessions"`
	Error            string `json:"error,omitempty"`
}

func runReplay(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay", "replay [--json] [--policy soc|dc|ac] [--keylog FILE] [-v] CAPTURE\n\n"+
		"Plays the car's requests of a pcap or pcapng capture against this charger, in process,\n"+
		"and tells what the charger answered and learnt. With several connections in the capture,\n"+
		"each is replayed; the summary and --json speak of the first with a SessionSetupReq.\n"+
		"A TLS session is read with --keylog, the charger's key log (ccslink evse --tls-keylog).\n"+
		"Exit status 1: the capture cannot be read, or its session cannot be replayed (TLS without\n"+
		"its key log, ISO 15118-20 DC).", stderr)
	asJSON := fs.Bool("json", false, "print the result as one JSON line (-1: a value the car did not send)")
	policy := fs.String("policy", "soc", "the charger's policy: soc (end the DC attempt once the SoC is known), dc (a full DC session), ac (ISO 15118-2 AC)")
	verbose := fs.Bool("v", false, "log every request to stderr")
	keylog := fs.String("keylog", "", "read TLS sessions with the secrets of this NSS key log `FILE`")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "ccslink replay: give exactly one capture file")
		fs.Usage()
		return 2
	}
	pol, err := secc.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink replay: %v\n", err)
		return 2
	}
	level := slog.LevelWarn + 4 // the replay's own output says what went wrong
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level)

	keys, code := readKeyLog("replay", *keylog, stderr)
	if code != 0 {
		return code
	}
	path := fs.Arg(0)
	res, err := replay.File(context.Background(), path, replay.Config{Policy: pol, Log: log, Keys: keys})
	rep := replayReport{Capture: path, Policy: pol.String(), Sessions: len(res.Sessions), SoC: -1, FullSOC: -1, EnergyCapacityWh: -1, EnergyRequestWh: -1}
	main := res.Main()
	if main != nil {
		rec := &main.Record
		rep.Protocol, rep.EVCCID = rec.Protocol, rec.EVCCIDHex()
		rep.SoC, rep.FullSOC = rec.SoC.OrMinus(), rec.FullSOC.OrMinus()
		rep.EnergyCapacityWh, rep.EnergyRequestWh = rec.EnergyCapacityWh.OrMinus(), rec.EnergyRequestWh.OrMinus()
		rep.Steps, rep.End = len(main.Steps), rec.End.String()
	}
	switch {
	case err != nil:
		rep.Error = err.Error()
	case main != nil && main.Err != nil:
		rep.Error = main.Err.Error()
	default:
		rep.OK = true
	}
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	} else if len(res.Sessions) > 0 {
		printReplay(stdout, path, pol, &res)
	}
	if !rep.OK {
		fmt.Fprintf(stderr, "ccslink replay: %s\n", rep.Error)
		return 1
	}
	return 0
}

// printReplay tells a replay in plain words: per session the car's
// requests and our answers (repeats counted), how it ended, and at the
// end the summary of the main session.
func printReplay(w io.Writer, path string, pol secc.PolicyName, res *replay.Result) {
	fmt.Fprintf(w, "replay of %s, policy %s\n", path, pol)
	if res.ReadErr != nil {
		fmt.Fprintf(w, "note: the capture is damaged or cut short (%v); what comes before is replayed\n", res.ReadErr)
	}
	for i := range res.Sessions {
		s := &res.Sessions[i]
		sdp := "no SDP request captured"
		if s.SDP != nil {
			sdp = "SDP asked for TLS"
			if s.SDP.Security == v2gtp.SecurityNone {
				sdp = "SDP without TLS"
			}
		}
		fmt.Fprintf(w, "session %d: car %v, charger %v, %s; the car offers %s\n", i+1, s.Car, s.Charger, sdp, strings.Join(s.Offered, ", "))
		for j := 0; j < len(s.Steps); {
			st := s.Steps[j]
			k := j + 1
			for k < len(s.Steps) && st.Err == nil && s.Steps[k].Err == nil && s.Steps[k].Request == st.Request &&
				s.Steps[k].Code == st.Code && s.Steps[k].Processing == st.Processing {
				k++
			}
			answer := st.Code
			if st.Processing != "" {
				answer += ", " + st.Processing
			}
			if k-j > 1 {
				fmt.Fprintf(w, "  %-28s -> %s (%d times, frames %d to %d)\n", st.Request, answer, k-j, st.Frame, s.Steps[k-1].Frame)
			} else {
				fmt.Fprintf(w, "  %-28s -> %s (frame %d)\n", st.Request, answer, st.Frame)
			}
			if st.Err != nil {
				fmt.Fprintf(w, "    %v\n", st.Err)
			}
			j = k
		}
		if s.Unsent > 0 {
			fmt.Fprintf(w, "  %d more requests of the car not sent: our session had ended\n", s.Unsent)
		}
		end := s.Record.End.Words()
		if s.Record.Detail != "" {
			end += " (" + s.Record.Detail + ")"
		}
		fmt.Fprintf(w, "  end: %s\n", end)
		fmt.Fprintf(w, "  in the capture the car sent: %s\n", sent(s.Captured))
		if len(res.Sessions) > 1 {
			fmt.Fprintf(w, "  %s\n", s.Record.Summary())
		}
	}
	if m := res.Main(); m != nil {
		fmt.Fprintln(w, m.Record.Summary())
	}
}

// sent describes what the car sent in the capture itself.
func sent(c replay.Captured) string {
	var parts []string
	if c.EVCCID != nil {
		parts = append(parts, "EVCCID "+nonEmptyHex(c.EVCCID))
	} else {
		parts = append(parts, "no SessionSetupReq")
	}
	switch {
	case c.CPDFrame == 0:
		parts = append(parts, "no ChargeParameterDiscoveryReq")
	case c.CPD.SoC != nil:
		parts = append(parts, fmt.Sprintf("SoC %d %% (frame %d)", *c.CPD.SoC, c.CPDFrame))
	default:
		parts = append(parts, fmt.Sprintf("no SoC: AC (frame %d)", c.CPDFrame))
	}
	if c.Requests == 1 {
		parts = append(parts, "1 request")
	} else {
		parts = append(parts, fmt.Sprintf("%d requests", c.Requests))
	}
	return strings.Join(parts, ", ")
}

func nonEmptyHex(b []byte) string {
	if len(b) == 0 {
		return "(empty)"
	}
	return record.ParseEVCCID(b).Hex
}
