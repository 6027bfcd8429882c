package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
)

// TestISO20AC: the iso20-ac car gets ISO 15118-20 from a charger the sim
// configures for it; under ac every SoC of its loop reaches the SmartEVSE,
// under soc the first.
func TestISO20AC(t *testing.T) {
	p, err := evcc.Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		pol     secc.PolicyName
		updates int
		soc     int
	}{{secc.PolicyAC, 5, 44}, {secc.PolicySoC, 1, 40}} {
		var out bytes.Buffer
		res, err := Run(ctx, Config{Car: p, Policy: c.pol, SkipDelays: true, Timeline: &out})
		if err != nil || !res.OK {
			t.Fatalf("%v: %+v %v\n%s", c.pol, res, err, out.String())
		}
		if res.Protocol != "iso20" || res.SoCUpdates != c.updates || res.SoC != c.soc || res.EnergyCapacityWh != 77000 {
			t.Errorf("%v: protocol %s, %d SoC updates, SoC %d, capacity %d", c.pol, res.Protocol, res.SoCUpdates, res.SoC, res.EnergyCapacityWh)
		}
		if want := []int{40, 41, 42, 43, 44}[:c.updates]; !slices.Equal(res.CarResult.SoCs, want) {
			t.Errorf("%v: the car sent %v, want %v", c.pol, res.CarResult.SoCs, want)
		}
		text := out.String()
		for _, w := range []string{"the charger serves ISO 15118-20 AC first (v2g.iso20_first: true), as the car offers it",
			"agree to speak ISO 15118-20"} {
			if !strings.Contains(text, w) {
				t.Errorf("%v: the timeline lacks %q:\n%s", c.pol, w, text)
			}
		}
		// The SmartEVSE output sends the newest SoC when it can: each POST's
		// SoC above the one before, the last the car's last.
		var posted []int
		for _, l := range strings.Split(text, "\n") {
			if _, q, ok := strings.Cut(l, "POST /ev_state?current_soc="); ok {
				n, _ := strconv.Atoi(q[:strings.IndexByte(q, '&')])
				posted = append(posted, n)
			}
		}
		rising := len(posted) > 0
		for i := 1; i < len(posted); i++ {
			rising = rising && posted[i] > posted[i-1]
		}
		if !rising || posted[len(posted)-1] != c.soc || (c.updates == 1 && len(posted) != 1) {
			t.Errorf("%v: the SmartEVSE got the SoCs %v", c.pol, posted)
		}
	}
}

// TestISO20DC: the iso20-dc car gets ISO 15118-20 DC and charges its
// rounds under dc, every SoC of its loop in the record (soc and the
// ac policy's fallback to it: secc's TestISO20DCCarOverTCP). Under soc
// the charger takes the DIN it offers too, which tells the SoC before
// any voltage.
func TestISO20DC(t *testing.T) {
	p, err := evcc.Lookup("iso20-dc")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		pol      secc.PolicyName
		protocol string
		mode     string
		updates  int
		soc      int
		end      evcc.End
		says     string
	}{
		{secc.PolicyDC, "iso20", "DC dynamic", 5, 34, evcc.EndComplete, "the charger serves ISO 15118-20 DC first (v2g.iso20_first: true), as the car offers it"},
		{secc.PolicySoC, "din", "DC_extended", 0, 30, evcc.EndShutdown,
			"the charger serves ISO 15118-20 first (v2g.iso20_first: true) but takes the car's DIN 70121: it tells the SoC before any voltage, -20 DC only after a precharge (--policy dc for -20 DC)"},
	} {
		var out bytes.Buffer
		res, err := Run(ctx, Config{Car: p, Policy: c.pol, SkipDelays: true, Timeline: &out})
		if err != nil || !res.OK {
			t.Fatalf("%v: %+v %v\n%s", c.pol, res, err, out.String())
		}
		if res.Protocol != c.protocol || res.TLS != "" || res.SoCUpdates != c.updates || res.SoC != c.soc || res.EnergyCapacityWh != 77000 || res.CarResult.End != c.end ||
			res.CarResult.Mode != c.mode {
			t.Errorf("%v: protocol %s, TLS %q, %d SoC updates, SoC %d, capacity %d, the car's end %v, mode %q", c.pol, res.Protocol, res.TLS, res.SoCUpdates, res.SoC,
				res.EnergyCapacityWh, res.CarResult.End, res.CarResult.Mode)
		}
		if !strings.Contains(out.String(), c.says) {
			t.Errorf("%v: the timeline does not say %q:\n%s", c.pol, c.says, out.String())
		}
	}
}

// TestISO20TLS: the iso20-ac-tls car asks for TLS in SDP; the sim serves a
// test chain, the car checks it against its root and speaks ISO 15118-20
// AC over TLS 1.3, every SoC of its loop published under ac.
func TestISO20TLS(t *testing.T) {
	p, err := evcc.Lookup("iso20-ac-tls")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := Run(ctx, Config{Car: p, Policy: secc.PolicyAC, SkipDelays: true, Timeline: &out})
	if err != nil || !res.OK {
		t.Fatalf("%+v %v\n%s", res, err, out.String())
	}
	if res.Protocol != "iso20" || res.TLS != "1.3" || res.SoCUpdates != 5 || res.SoC != 44 {
		t.Errorf("protocol %s, TLS %q, %d SoC updates, SoC %d", res.Protocol, res.TLS, res.SoCUpdates, res.SoC)
	}
	b, err := json.Marshal(res)
	if err != nil || !bytes.Contains(b, []byte(`"protocol":"iso20","tls":"1.3"`)) {
		t.Errorf("JSON %s (%v)", b, err)
	}
	text := out.String()
	for _, w := range []string{"the car asks for TLS: the charger serves V2G over TLS too",
		"the car and the charger speak TLS 1.3 (", "), the charger's chain checked against the test root"} {
		if !strings.Contains(text, w) {
			t.Errorf("the timeline lacks %q:\n%s", w, text)
		}
	}
}
