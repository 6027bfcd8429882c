package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

func TestReplayJSON(t *testing.T) {
	path := shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	var out, errb bytes.Buffer
	if code := run([]string{"replay", "--json", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	quoted, _ := json.Marshal(path)
	want := `{"capture":` + string(quoted) + `,"policy":"soc","ok":true,"protocol":"din","evccid":"0465650064c3","soc":93,"full_soc":94,` +
		`"energy_capacity_wh":28000,"energy_request_wh":1820,"steps":7,"end":"car_closed","sessions":1}` + "\n"
	if out.String() != want || errb.Len() != 0 {
		t.Errorf("got  %s\nwant %s\nstderr %q", out.String(), want, errb.String())
	}
}

func TestReplayText(t *testing.T) {
	path := shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	var out, errb bytes.Buffer
	if code := run([]string{"replay", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := "replay of " + path + ", policy soc\n" +
		"session 1: car [fe80::665:65ff:fe00:64c3]:50106, charger [fe80::c690:83f3:fbcb:980e]:15118, SDP without TLS; the car offers urn:din:70121:2012:MsgDef 2.0\n" +
		"  supportedAppProtocolReq      -> OK_SuccessfulNegotiation (frame 105)\n" +
		"  SessionSetupReq              -> OK_NewSessionEstablished (frame 114)\n" +
		"  ServiceDiscoveryReq          -> OK (frame 124)\n" +
		"  ServicePaymentSelectionReq   -> OK (frame 132)\n" +
		"  ContractAuthenticationReq    -> OK, Finished (frame 140)\n" +
		"  ChargeParameterDiscoveryReq  -> OK, Ongoing (frame 148)\n" +
		"  CableCheckReq                -> FAILED, Finished (frame 157)\n" +
		"  62 more requests of the car not sent: our session had ended\n" +
		"  end: the car closed the connection (after CableCheckReq answered FAILED)\n" +
		"  in the capture the car sent: EVCCID 0465650064c3, SoC 93 % (frame 148), 69 requests\n" +
		"car (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestReplayDC: repeated answers are counted on one line.
func TestReplayDC(t *testing.T) {
	path := shared.Path(t, "captures", "everest", "kia-ev6_din-dc.pcap")
	var out, errb bytes.Buffer
	if code := run([]string{"replay", "--policy", "dc", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, line := range []string{
		"  CableCheckReq                -> OK, Ongoing (frame 68)\n",
		"  CableCheckReq                -> OK, Finished (131 times, frames 72 to 593)\n",
		"  CurrentDemandReq             -> OK (435 times, frames 673 to 2416)\n",
		"  SessionStopReq               -> OK (frame 2464)\n",
		"  end: the car ended the session (SessionStop)\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}

func TestReplayErrors(t *testing.T) {
	tls := shared.Path(t, "captures", "dsv2gshark", "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng")
	iso20 := shared.Path(t, "captures", "dsv2gshark", "ISO-20_BPT_AC_DS5366_Josev.pcapng")
	polestar := shared.Path(t, "captures", "pyplc", "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng")
	missing := filepath.Join(t.TempDir(), "none.pcap")
	cases := []struct {
		args   []string
		code   int
		stdout string // a prefix
		stderr string // contained
	}{
		{[]string{"replay"}, 2, "", "give exactly one capture file"},
		{[]string{"replay", "a.pcap", "b.pcap"}, 2, "", "give exactly one capture file"},
		{[]string{"replay", "--policy", "fast", "a.pcap"}, 2, "", `unknown policy "fast": use soc, dc or ac`},
		{[]string{"replay", "--bogus", "a.pcap"}, 2, "", "flag provided but not defined"},
		{[]string{"replay", "-h"}, 0, "", "Usage: ccslink replay"},
		{[]string{"replay", missing}, 1, "", "ccslink replay: cannot read the capture: open " + missing + ": no such file or directory"},
		{[]string{"replay", tls}, 1, "", "ccslink replay: the V2G session is encrypted (TLS): nothing to replay\n"},
		{[]string{"replay", "--json", tls}, 1, `{"capture":"` + tls + `","policy":"soc","ok":false,"soc":-1,"full_soc":-1,"energy_capacity_wh":-1,"energy_request_wh":-1,"steps":0,"sessions":0,"error":"the V2G session is encrypted (TLS): nothing to replay"}`, "encrypted"},
		// A -20 AC car replays until it asks for a service this charger does not offer.
		{[]string{"replay", "--policy", "ac", "--json", iso20}, 0, `{"capture":"` + iso20 + `","policy":"ac","ok":true,"protocol":"iso20",` +
			`"evccid":"574d495631323334353637383930414243444558","soc":-1,"full_soc":-1,"energy_capacity_wh":-1,"energy_request_wh":-1,"steps":6,"end":"car_closed","sessions":1}`, ""},
		{[]string{"replay", "--keylog", missing, iso20}, 1, "", "ccslink replay: cannot open the key log: open " + missing + ": no such file or directory"},
		// The car's recorded requests are DIN; the ac policy negotiates ISO-2.
		{[]string{"replay", "--policy", "ac", "--json", polestar}, 1, `{"capture":"` + polestar + `","policy":"ac","ok":false,"protocol":"iso2","soc":-1,"full_soc":-1,` +
			`"energy_capacity_wh":-1,"energy_request_wh":-1,"steps":1,"end":"error","sessions":1,"error":"our charger negotiated another protocol than the car's recorded requests speak: ours is ISO 15118-2, the car's requests are DIN 70121"}`,
			"ccslink replay: our charger negotiated another protocol"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, nil, &out, &errb)
		if code != c.code || !strings.HasPrefix(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errb.String())
		}
	}
}
