package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
)

func runPcapCmd(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"pcap"}, args...), nil, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	return out.String()
}

func TestPcapText(t *testing.T) {
	out := runPcapCmd(t, shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	for _, line := range []string{
		"   21.113 s  slac      car->charger CM_MNBC_SOUND.IND x10 RunID=0465650064c30000 Cnt=9\n",
		"   21.343 s  slac      charger->car CM_ATTEN_CHAR.IND RunID=0465650064c30000 SourceAddress=04:65:65:00:64:c3 NumSounds=10 Groups=58 Attenuation=9.5 dB\n",
		"   26.507 s  sdp       charger->car SDP response Address=fe80::c690:83f3:fbcb:980e Port=15118 Security=none Transport=TCP\n",
		"   27.393 s  handshake car->charger supportedAppProtocolReq Offer1=\"DIN 70121 2.0 (SchemaID 1, priority 1)\"\n",
		"   27.518 s  handshake charger->car supportedAppProtocolRes ResponseCode=OK_SuccessfulNegotiation SchemaID=1 Chosen=\"DIN 70121\" (124.6 ms)\n",
		"   29.474 s  v2g       car->charger ChargeParameterDiscoveryReq EVReady=false EVErrorCode=NO_ERROR EVRESSSOC=93 % EVMaximumCurrentLimit=200 A " +
			"EVMaximumPowerLimit=98000 W EVMaximumVoltageLimit=412.8 V EVEnergyCapacity=28000 Wh EVEnergyRequest=1820 Wh FullSOC=94 % BulkSOC=83 %\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks\n%s", line)
		}
	}
	summary := "\nsession 1 (20.816 s to 45.399 s): the capture ends after CurrentDemandRes\n" +
		"  car MAC           04:65:65:00:64:c3\n" +
		"  RunID             0465650064c30000\n" +
		"  NID               01020304050607\n" +
		"  protocol          DIN 70121\n" +
		"  EVCCID            0465650064c3\n" +
		"  SoC               93 %\n" +
		"  FullSOC           94 %\n" +
		"  BulkSOC           83 %\n" +
		"  energy capacity   28000 Wh\n" +
		"  energy request    1820 Wh\n" +
		"  requests          69, slowest answer 217.2 ms\n"
	if !strings.HasSuffix(out, summary) {
		t.Errorf("output ends\n%s\nwant\n%s", out[max(0, len(out)-len(summary)-200):], summary)
	}
}

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestPcapJSONL(t *testing.T) {
	out := runPcapCmd(t, "--jsonl", shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	lines := jsonLines(t, out)
	want := `{"kind":"summary","session":1,"start":20.816315,"stop":45.398694,"car_mac":"04:65:65:00:64:c3","run_id":"0465650064c30000",` +
		`"nid":"01020304050607","matched":true,"protocol":"DIN 70121","evccid":"0465650064c3","soc":93,"full_soc":94,"bulk_soc":83,` +
		`"energy_capacity_wh":28000,"energy_request_wh":1820,"requests":69,"max_took_ms":217.218,"end":"the capture ends after CurrentDemandRes"}` + "\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("last line\n%v\nwant\n%s", lines[len(lines)-1], want)
	}
	if !strings.Contains(out, `{"t":27.518094,"kind":"handshake","dir":"charger->car","msg":"supportedAppProtocolRes","took_ms":124.62,"session":1,`+
		`"fields":{"ResponseCode":"OK_SuccessfulNegotiation","SchemaID":1,"Chosen":"DIN 70121"}}`+"\n") {
		t.Error("no supportedAppProtocolRes line as expected")
	}
	var cpd map[string]any
	for _, l := range lines {
		if _, ok := l["error"]; ok {
			t.Errorf("error line %v", l)
		}
		if l["msg"] == "ChargeParameterDiscoveryReq" && cpd == nil {
			cpd = l
		}
	}
	f, _ := cpd["fields"].(map[string]any)
	if soc, _ := f["EVRESSSOC"].(map[string]any); soc["value"] != 93.0 || soc["unit"] != "%" {
		t.Errorf("EVRESSSOC %v", f["EVRESSSOC"])
	}
	if c, _ := f["EVEnergyCapacity"].(map[string]any); c["value"] != 28000.0 || c["unit"] != "Wh" || f["EVErrorCode"] != "NO_ERROR" || cpd["dir"] != "car->charger" {
		t.Errorf("ChargeParameterDiscoveryReq line %v", cpd)
	}
}

// A TLS session says so once, on one line with an error.
func TestPcapTLS(t *testing.T) {
	out := runPcapCmd(t, "--jsonl", shared.Path(t, "captures", "dsv2gshark", "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng"))
	var errs []map[string]any
	for _, l := range jsonLines(t, out) {
		if _, ok := l["error"]; ok {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || errs[0]["kind"] != "stream" || errs[0]["error"] != "TLS: 11838 bytes encrypted; give a key log (ccslink pcap --keylog FILE) to read it" {
		t.Errorf("error lines %v, want one encrypted stream", errs)
	}
	if !strings.Contains(out, `"encrypted":true,"end":"the V2G session is encrypted (TLS)"}`) {
		t.Errorf("summary does not say encrypted:\n%s", out[strings.LastIndex(out[:len(out)-1], "\n")+1:])
	}
}

func TestPcapBadArgs(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"pcap"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "give exactly one capture file") {
		t.Errorf("no file: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	garbage := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(garbage, []byte("not a key log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"pcap", "--keylog", garbage, "x.pcap"}, nil, &out, &errb); code != 1 || errb.String() !=
		"ccslink pcap: key log "+garbage+": no TLS secret in the key log (NSS key log format: LABEL CLIENT_RANDOM_HEX SECRET_HEX per line)\n" {
		t.Errorf("a key log without secrets: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code := run([]string{"pcap", "/nonexistent/x.pcap"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "cannot read the capture (a pcap or pcapng file is needed)") || out.Len() != 0 {
		t.Errorf("missing file: exit %d, stderr %q", code, errb.String())
	}
}
