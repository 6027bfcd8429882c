package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ccslink/ccslink/tools/timeline"
	"github.com/ccslink/ccslink/tools/tlsread"
)

func init() {
	register(command{
		name:    "pcap",
		summary: "print a readable timeline of a capture: SLAC, SDP and every V2G message decoded",
		run:     runPcap,
	})
}

func runPcap(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("pcap", "pcap [--jsonl] [--keylog FILE] CAPTURE\n\n"+
		"Prints one line per event of a pcap or pcapng capture, with the time since its first frame:\n"+
		"the SLAC messages (a burst of sounds on one line), SDP, the SupportedAppProtocol handshake and\n"+
		"each V2G message decoded with its key values and the answer time, then a summary per session.\n"+
		"A TLS stream is read with --keylog: the secrets the charger wrote (ccslink evse --tls-keylog,\n"+
		"SSLKEYLOGFILE) in the NSS key log format.\n"+
		"Exit status 1: the capture or the key log cannot be read.", stderr)
	jsonl := fs.Bool("jsonl", false, "print one JSON object per event, then one per session summary")
	keylog := fs.String("keylog", "", "read TLS streams with the secrets of this NSS key log `FILE`")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "ccslink pcap: give exactly one capture file")
		fs.Usage()
		return 2
	}
	keys, code := readKeyLog("pcap", *keylog, stderr)
	if code != 0 {
		return code
	}
	t, err := timeline.FileKeys(fs.Arg(0), keys)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink pcap: %v\n", err)
		return 1
	}
	if *jsonl {
		err = writeJSONL(stdout, t)
	} else {
		err = writeText(stdout, t)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ccslink pcap: %v\n", err)
		return 1
	}
	return 0
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func value(f timeline.Field) string {
	switch v := f.Value.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		if strings.ContainsAny(v, " =") || v == "" {
			return strconv.Quote(v)
		}
		return v
	}
	return fmt.Sprint(f.Value)
}

// writeText prints the timeline as lines for people.
func writeText(w io.Writer, t *timeline.Timeline) error {
	var b bytes.Buffer
	for _, e := range t.Events {
		fmt.Fprintf(&b, "%9s s  %-9s %-12s %s", seconds(e.T), e.Kind, e.Dir, e.Msg)
		if e.Count > 1 {
			fmt.Fprintf(&b, " x%d", e.Count)
		}
		for _, f := range e.Fields {
			b.WriteString(" " + f.Name + "=" + value(f))
			if f.Unit != "" {
				b.WriteString(" " + f.Unit)
			}
		}
		if e.Answer {
			b.WriteString(" (" + millis(e.Took) + ")")
		}
		if e.Err != nil {
			b.WriteString("  error: " + e.Err.Error())
		}
		b.WriteByte('\n')
	}
	for i, s := range t.Sessions {
		fmt.Fprintf(&b, "\nsession %d (%s s to %s s): %s\n", i+1, seconds(s.Start), seconds(s.Stop), s.End)
		line := func(name, v string) {
			if v != "" {
				fmt.Fprintf(&b, "  %-17s %s\n", name, v)
			}
		}
		line("car MAC", s.CarMAC)
		line("RunID", s.RunID)
		if s.Matched {
			line("NID", s.NID)
		}
		line("protocol", s.Protocol)
		line("EVCCID", s.EVCCID)
		line("SoC", intUnit(s.SoC, " %"))
		line("FullSOC", intUnit(s.FullSOC, " %"))
		line("BulkSOC", intUnit(s.BulkSOC, " %"))
		line("energy capacity", whs(s.EnergyCapacityWh))
		line("energy request", whs(s.EnergyRequestWh))
		if s.Requests > 0 {
			line("requests", fmt.Sprintf("%d, slowest answer %s", s.Requests, millis(s.MaxTook)))
		}
		if s.Encrypted {
			line("encrypted", "yes (TLS)")
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func intUnit(v *int, unit string) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v) + unit
}

func whs(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64) + " Wh"
}

// jsonEvent is one --jsonl line of an event.
type jsonEvent struct {
	T       float64         `json:"t"`
	Kind    timeline.Kind   `json:"kind"`
	Dir     timeline.Dir    `json:"dir,omitempty"`
	Msg     string          `json:"msg"`
	Count   int             `json:"count,omitempty"`
	TookMS  *float64        `json:"took_ms,omitempty"`
	Session *int            `json:"session,omitempty"`
	Fields  json.RawMessage `json:"fields,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// jsonSummary is the --jsonl line of a session's summary.
type jsonSummary struct {
	Kind             string   `json:"kind"` // "summary"
	Session          int      `json:"session"`
	Start            float64  `json:"start"`
	Stop             float64  `json:"stop"`
	CarMAC           string   `json:"car_mac,omitempty"`
	RunID            string   `json:"run_id,omitempty"`
	NID              string   `json:"nid,omitempty"`
	Matched          bool     `json:"matched"`
	Protocol         string   `json:"protocol,omitempty"`
	EVCCID           string   `json:"evccid,omitempty"`
	SoC              *int     `json:"soc,omitempty"`
	FullSOC          *int     `json:"full_soc,omitempty"`
	BulkSOC          *int     `json:"bulk_soc,omitempty"`
	EnergyCapacityWh *float64 `json:"energy_capacity_wh,omitempty"`
	EnergyRequestWh  *float64 `json:"energy_request_wh,omitempty"`
	Requests         int      `json:"requests"`
	MaxTookMS        float64  `json:"max_took_ms"`
	Encrypted        bool     `json:"encrypted,omitempty"`
	End              string   `json:"end"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sec gives seconds to the microsecond, so that JSON prints no float noise.
func sec(d time.Duration) float64 { return float64(d.Microseconds()) / 1e6 }

// fieldsJSON writes the fields as one object in their order; a physical
// value is {"value":..,"unit":..}.
func fieldsJSON(fs []timeline.Field) (json.RawMessage, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		b.Write(k)
		b.WriteByte(':')
		var v any = f.Value
		if f.Unit != "" {
			v = struct {
				Value any    `json:"value"`
				Unit  string `json:"unit"`
			}{f.Value, f.Unit}
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.Write(j)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSONL(w io.Writer, t *timeline.Timeline) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "car->charger" as it is
	for _, e := range t.Events {
		j := jsonEvent{T: sec(e.T), Kind: e.Kind, Dir: e.Dir, Msg: e.Msg}
		if e.Count > 1 {
			j.Count = e.Count
		}
		if e.Answer {
			v := ms(e.Took)
			j.TookMS = &v
		}
		if e.Session >= 0 {
			s := e.Session + 1
			j.Session = &s
		}
		var err error
		if j.Fields, err = fieldsJSON(e.Fields); err != nil {
			return err
		}
		if e.Err != nil {
			j.Error = e.Err.Error()
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	for i, s := range t.Sessions {
		j := jsonSummary{Kind: "summary", Session: i + 1, Start: sec(s.Start), Stop: sec(s.Stop),
			CarMAC: s.CarMAC, RunID: s.RunID, NID: s.NID, Matched: s.Matched, Protocol: s.Protocol, EVCCID: s.EVCCID,
			SoC: s.SoC, FullSOC: s.FullSOC, BulkSOC: s.BulkSOC, EnergyCapacityWh: s.EnergyCapacityWh,
			EnergyRequestWh: s.EnergyRequestWh, Requests: s.Requests, MaxTookMS: ms(s.MaxTook), Encrypted: s.Encrypted, End: s.End}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// readKeyLog reads the key log at path for command cmd; "" is none. code
// is the exit status when it cannot be read, else 0.
func readKeyLog(cmd, path string, stderr io.Writer) (keys *tlsread.KeyLog, code int) {
	if path == "" {
		return nil, 0
	}
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink %s: cannot open the key log: %v\n", cmd, err)
		return nil, 1
	}
	defer f.Close()
	if keys, err = tlsread.ReadKeyLog(f); err != nil {
		fmt.Fprintf(stderr, "ccslink %s: key log %s: %v\n", cmd, path, err)
		return nil, 1
	}
	return keys, 0
}
