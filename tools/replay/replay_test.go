package replay

import (
	"reflect"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/tools/tlsread"

	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
)

// captureFiles lists every pcap and pcapng file under shared/captures,
// relative to that directory.
func captureFiles(t *testing.T) (dir string, files []string) {
	dir = shared.Path(t, "captures")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".pcap" || ext == ".pcapng") {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no capture in %s", dir)
	}
	return dir, files
}

// carSent is what one car connection of a capture holds, decoded here
// apart from the package: the first SessionSetupReq's EVCCID and the
// first ChargeParameterDiscoveryReq's DC SoC.
type carSent struct {
	car, charger netip.AddrPort
	setup        bool
	evccid       string
	soc          int // -1: no DC ChargeParameterDiscoveryReq
}

func carsIn(t *testing.T, path string) []carSent {
	t.Helper()
	c, _ := capture.Open(path)
	if c == nil {
		t.Fatalf("%s does not open", path)
	}
	msgs, _ := capture.V2GTP(c.Frames())
	var cars []*carSent
	for _, m := range msgs {
		if m.Transport != "tcp" {
			continue
		}
		if m.Header.Type == v2gtp.TypeISO20CommonMessages {
			var d iso20.Document
			if _, err := iso20.Unmarshal(m.Payload, &d); err == nil && d.SessionSetupReq != nil && len(cars) > 0 && !cars[len(cars)-1].setup {
				cars[len(cars)-1].setup, cars[len(cars)-1].evccid = true, hex.EncodeToString([]byte(d.SessionSetupReq.EVCCID))
			}
			continue
		}
		if m.Header.Type != v2gtp.TypeEXI {
			continue
		}
		var a apphand.Document
		if n, err := apphand.Unmarshal(m.Payload, &a); err == nil && n == len(m.Payload) && a.SupportedAppProtocolReq != nil {
			cars = append(cars, &carSent{car: m.Src, charger: m.Dst, soc: -1})
			continue
		}
		var cs *carSent
		for _, c := range cars {
			if c.car == m.Src && c.charger == m.Dst {
				cs = c // the latest on this 4-tuple
			}
		}
		if cs == nil {
			continue
		}
		var d din.Document
		var i iso2.Document
		switch {
		case func() bool { _, err := din.Unmarshal(m.Payload, &d); return err == nil && d.V2G_Message != nil }():
			b := d.V2G_Message.Body
			if b.SessionSetupReq != nil && !cs.setup {
				cs.setup, cs.evccid = true, hex.EncodeToString(b.SessionSetupReq.EVCCID)
			}
			if r := b.ChargeParameterDiscoveryReq; r != nil && r.DC_EVChargeParameter != nil && cs.soc < 0 {
				cs.soc = int(r.DC_EVChargeParameter.DC_EVStatus.EVRESSSOC)
			}
		case func() bool { _, err := iso2.Unmarshal(m.Payload, &i); return err == nil && i.V2G_Message != nil }():
			b := i.V2G_Message.Body
			if b.SessionSetupReq != nil && !cs.setup {
				cs.setup, cs.evccid = true, hex.EncodeToString(b.SessionSetupReq.EVCCID)
			}
			if r := b.ChargeParameterDiscoveryReq; r != nil && r.DC_EVChargeParameter != nil && cs.soc < 0 {
				cs.soc = int(r.DC_EVChargeParameter.DC_EVStatus.EVRESSSOC)
			}
		}
	}
	out := make([]carSent, len(cars))
	for i, c := range cars {
		out[i] = *c
	}
	return out
}

// failing lists the captures without a V2G session to replay, and the error each gives.
var failing = map[string]error{
	"dsv2gshark/IEC61851_AC_PWM_Basic.pcapng":                                    ErrNoSession,
	"dsv2gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng":                             ErrEncrypted,
	"dsv2gshark/ISO-20_mTLS_DC_DS5366_Josev.pcapng":                              ErrEncrypted,
	"dsv2gshark/ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng": ErrEncrypted,
	"dsv2gshark/ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng":         ErrEncrypted,
	"dsv2gshark/ISO-2_DC_PnC_TLS_CertUpdate_DS5366_RiseV2G.pcapng":               ErrEncrypted,
	"dsv2gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng":                 ErrEncrypted,
	"pyplc/2023-05-03_TaycanLeftside_slacFail.pcapng":                            ErrNoSession,
	"pyplc/2023-05-03_TaycanRightside_slacFail.pcapng":                           ErrNoSession,
}

// TestEveryCapture replays every shared capture under the soc policy: each
// car connection yields the EVCCID and the SoC the car sent in it.
func TestEveryCapture(t *testing.T) {
	dir, files := captureFiles(t)
	replayed := 0
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			r, err := File(context.Background(), path, Config{})
			if want, ok := failing[name]; ok {
				if !errors.Is(err, want) {
					t.Fatalf("error %v, want %v", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cars := carsIn(t, path)
			if len(r.Sessions) != len(cars) {
				t.Fatalf("%d sessions, the capture holds %d SupportedAppProtocolReq", len(r.Sessions), len(cars))
			}
			if m := r.Main(); m == nil || m.Record.Protocol == "" || m.Record.EVCCID == nil && m.Captured.EVCCID == nil {
				t.Fatalf("main session %+v did not get past the handshake", m)
			}
			for i, s := range r.Sessions {
				c := cars[i]
				if s.Car != c.car || s.Charger != c.charger {
					t.Errorf("session %d: car %v charger %v, want %v %v", i, s.Car, s.Charger, c.car, c.charger)
				}
				if got := hex.EncodeToString(s.Captured.EVCCID); got != c.evccid || (s.Captured.EVCCID != nil) != c.setup {
					t.Errorf("session %d: captured EVCCID %q, the capture's %q", i, got, c.evccid)
				}
				// Our charger recorded what the car sent (an empty EVCCID stays unknown).
				if got := s.Record.EVCCIDHex(); got != c.evccid {
					t.Errorf("session %d: recorded EVCCID %q, the car sent %q", i, got, c.evccid)
				}
				if got := s.Record.SoC.OrMinus(); got != c.soc {
					t.Errorf("session %d: recorded SoC %d, the car's first ChargeParameterDiscoveryReq %d", i, got, c.soc)
				}
				if c.soc >= 0 && (s.Captured.CPD.SoC == nil || *s.Captured.CPD.SoC != c.soc) {
					t.Errorf("session %d: captured SoC %v, want %d", i, s.Captured.CPD.SoC, c.soc)
				}
				if s.Record.End == record.EndNone || s.Record.End == record.EndError {
					t.Errorf("session %d ended %v (%s), err %v", i, s.Record.End, s.Record.Detail, s.Err)
				}
				if len(s.Steps)+s.Unsent != s.Captured.Requests {
					t.Errorf("session %d: %d steps + %d unsent != %d requests", i, len(s.Steps), s.Unsent, s.Captured.Requests)
				}
			}
			replayed++
		})
	}
	if replayed < 20 {
		t.Errorf("only %d captures replayed", replayed)
	}
}

// TestIoniq checks a whole replay against the values pyPLC's decoder
// printed for this capture (its decoded.txt); frames count from 0.
func TestIoniq(t *testing.T) {
	path := shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	r, err := File(context.Background(), path, Config{Policy: secc.PolicySoC})
	if err != nil {
		t.Fatal(err)
	}
	if r.ReadErr != nil || len(r.Sessions) != 1 {
		t.Fatalf("read error %v, %d sessions", r.ReadErr, len(r.Sessions))
	}
	s := r.Sessions[0]
	rec := s.Record
	if rec.Protocol != "din" || rec.Namespace != secc.NamespaceDIN || rec.EVCCIDHex() != "0465650064c3" || rec.EVCCID.Random {
		t.Errorf("protocol %q %q, EVCCID %+v", rec.Protocol, rec.Namespace, rec.EVCCID)
	}
	ints := []struct {
		name string
		got  record.Int
		want int
	}{{"SoC", rec.SoC, 93}, {"FullSOC", rec.FullSOC, 94}, {"BulkSOC", rec.BulkSOC, 83}}
	for _, c := range ints {
		if !c.got.Known || c.got.Value != c.want || c.got.From != "ChargeParameterDiscoveryReq" {
			t.Errorf("%s %+v, want %d from ChargeParameterDiscoveryReq", c.name, c.got, c.want)
		}
	}
	if rec.EnergyCapacityWh.Value != 28000 || rec.EnergyRequestWh.Value != 1820 || rec.MaxVoltageV.Value != 412.8 || rec.MaxCurrentA.Value != 200 {
		t.Errorf("capacity %+v, request %+v, max %+v V %+v A", rec.EnergyCapacityWh, rec.EnergyRequestWh, rec.MaxVoltageV, rec.MaxCurrentA)
	}
	if got, want := rec.Summary(), "car (DIN 70121): SoC 93 %, capacity 28.0 kWh, wants 1.8 kWh, EVCCID 0465650064c3"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	want := []Step{
		{Frame: 105, Request: message.SupportedAppProtocolReq, Code: "OK_SuccessfulNegotiation"},
		{Frame: 114, Request: message.SessionSetupReq, Code: "OK_NewSessionEstablished"},
		{Frame: 124, Request: message.ServiceDiscoveryReq, Code: "OK"},
		{Frame: 132, Request: message.ServicePaymentSelectionReq, Code: "OK"},
		{Frame: 140, Request: message.ContractAuthenticationReq, Code: "OK", Processing: "Finished"},
		// The soc policy has the values and keeps the car waiting.
		{Frame: 148, Request: message.ChargeParameterDiscoveryReq, Code: "OK", Processing: "Ongoing"},
		{Frame: 157, Request: message.CableCheckReq, Code: "FAILED", Processing: "Finished"},
	}
	if !equalSteps(s.Steps, want) {
		t.Errorf("steps\n%+v\nwant\n%+v", s.Steps, want)
	}
	if s.Unsent != 62 || s.Captured.Requests != 69 || s.Err != nil {
		t.Errorf("unsent %d of %d, err %v", s.Unsent, s.Captured.Requests, s.Err)
	}
	if rec.End != record.EndCarClosed || rec.Detail != "after CableCheckReq answered FAILED" {
		t.Errorf("end %v %q", rec.End, rec.Detail)
	}
	if s.SDP == nil || *s.SDP != (v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}) {
		t.Errorf("SDP %+v", s.SDP)
	}
	if s.Recorded != secc.ProtocolDIN || strings.Join(s.Offered, ",") != "urn:din:70121:2012:MsgDef 2.0" {
		t.Errorf("recorded %v, offered %q", s.Recorded, s.Offered)
	}
	if len(rec.Answers) != len(want) || rec.Answers[6].Message != message.CableCheckReq || rec.Answers[6].Code != "FAILED" {
		t.Errorf("answers %+v", rec.Answers)
	}
	if rec.Phases.SDP.IsZero() || rec.Phases.FirstCPD.Sub(rec.Phases.SessionSetup) <= 0 || rec.Phases.Ended.Before(rec.Phases.FirstCPD) {
		t.Errorf("phases %+v", rec.Phases)
	}
	v := s.Captured.CPD
	if s.Captured.CPDFrame != 148 || *v.SoC != 93 || *v.FullSOC != 94 || *v.BulkSOC != 83 || *v.EnergyCapacityWh != 28000 || *v.EnergyRequestWh != 1820 {
		t.Errorf("captured %+v", s.Captured)
	}
}

func equalSteps(got, want []Step) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Frame != want[i].Frame || got[i].Request != want[i].Request || got[i].Code != want[i].Code || got[i].Processing != want[i].Processing || (got[i].Err == nil) != (want[i].Err == nil) {
			return false
		}
	}
	return true
}

// TestCars checks a few cars' values against the pyPLC decoder's output
// and the EVerest logs beside the captures.
func TestCars(t *testing.T) {
	type car struct {
		protocol, evccid      string
		soc, full, bulk       int
		capacityWh, requestWh int
	}
	cases := []struct {
		file string
		cars []car
	}{
		{"pyplc/2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng", []car{{"din", "48c58db1e43e", 77, 100, 80, 78500, 17800}}},
		{"pyplc/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng", []car{{"din", "98ed5cdad998", 55, -1, -1, -1, -1}}},
		{"pyplc/2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng", []car{
			{"din", "dc0ea1116708", 20, 100, 80, 28000, 20000}, {"din", "dc0ea1116708", 20, 100, 80, 28000, 20000}}},
		{"everest/kia-ev6_iso2-dc.pcap", []car{{"iso2", "04e77e00f398", 35, 100, 80, -1, -1}}},
		{"everest/vw-id3_iso2-ac.pcap", []car{{"iso2", "007dfa07f683", -1, -1, -1, -1, 5300}, {"iso2", "007dfa0665a0", -1, -1, -1, -1, 5300}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			r, err := File(context.Background(), shared.Path(t, "captures", c.file), Config{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Sessions) != len(c.cars) {
				t.Fatalf("%d sessions, want %d", len(r.Sessions), len(c.cars))
			}
			for i, w := range c.cars {
				rec := r.Sessions[i].Record
				got := car{rec.Protocol, rec.EVCCIDHex(), rec.SoC.OrMinus(), rec.FullSOC.OrMinus(), rec.BulkSOC.OrMinus(),
					rec.EnergyCapacityWh.OrMinus(), rec.EnergyRequestWh.OrMinus()}
				if got != w {
					t.Errorf("session %d: %+v\nwant %+v", i, got, w)
				}
			}
		})
	}
}

// TestPolicyDC: under the dc policy a DIN DC car plays its whole session
// through, as the recorded EVerest charger ran it.
func TestPolicyDC(t *testing.T) {
	r, err := File(context.Background(), shared.Path(t, "captures", "everest", "kia-ev6_din-dc.pcap"), Config{Policy: secc.PolicyDC})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sessions[0]
	// The requests in order, repeats collapsed, with how many of each run.
	var runs []string
	for i, st := range s.Steps {
		if st.Err != nil || !strings.HasPrefix(st.Code, "OK") {
			t.Errorf("step %d %+v", i, st)
		}
		if i == 0 || s.Steps[i-1].Request != st.Request {
			runs = append(runs, st.Request.String())
		}
	}
	want := "supportedAppProtocolReq SessionSetupReq ServiceDiscoveryReq ServicePaymentSelectionReq ContractAuthenticationReq " +
		"ChargeParameterDiscoveryReq CableCheckReq PreChargeReq PowerDeliveryReq CurrentDemandReq PowerDeliveryReq WeldingDetectionReq SessionStopReq"
	if got := strings.Join(runs, " "); got != want {
		t.Errorf("requests\n%s\nwant\n%s", got, want)
	}
	if len(s.Steps) != 605 || s.Unsent != 0 || s.Record.End != record.EndSessionStop || s.Err != nil {
		t.Errorf("%d steps, %d unsent, end %v %q, err %v", len(s.Steps), s.Unsent, s.Record.End, s.Record.Detail, s.Err)
	}
	// Our emulated cable check takes two requests; the car's recorded 132 all get answers.
	var proc []string
	for _, st := range s.Steps {
		if st.Request == message.CableCheckReq && (len(proc) == 0 || proc[len(proc)-1] != st.Processing) {
			proc = append(proc, st.Processing)
		}
	}
	if strings.Join(proc, " ") != "Ongoing Finished" {
		t.Errorf("CableCheck answers %q", proc)
	}
	if s.Record.SoC.Value != 35 || s.Record.EVCCIDHex() != "04e77e00f398" {
		t.Errorf("SoC %+v, EVCCID %q", s.Record.SoC, s.Record.EVCCIDHex())
	}
}

// TestPolicies: the policy decides how far a car gets.
func TestPolicies(t *testing.T) {
	polestar := shared.Path(t, "captures", "pyplc", "2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng")
	ioniq := shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	ac := shared.Path(t, "captures", "everest", "skoda-enyaq_iso2-ac.pcap")

	// The car offers DIN and ISO-2; the recorded charger chose DIN, the ac policy serves ISO-2.
	r, err := File(context.Background(), polestar, Config{Policy: secc.PolicyAC})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Sessions[0]; !errors.Is(s.Err, ErrProtocol) || s.Record.End != record.EndError || len(s.Steps) != 1 || s.Unsent != s.Captured.Requests-1 {
		t.Errorf("polestar under ac: err %v, end %v, %d steps, %d unsent", s.Err, s.Record.End, len(s.Steps), s.Unsent)
	}
	// A DIN-only car gets no protocol under ac.
	_, err = File(context.Background(), ioniq, Config{Policy: secc.PolicyAC})
	if !errors.Is(err, secc.ErrNoProtocol) || errors.Is(err, ErrISO20) {
		t.Errorf("ioniq under ac: %v", err)
	}
	// An AC car under the ac policy is served: ChargeParameterDiscovery, PowerDelivery, ChargingStatus.
	r, err = File(context.Background(), ac, Config{Policy: secc.PolicyAC})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Sessions[0]
	codes := map[message.Kind]string{}
	for _, st := range s.Steps {
		codes[st.Request] = st.Code
	}
	for _, req := range []message.Kind{message.ChargeParameterDiscoveryReq, message.PowerDeliveryReq, message.ChargingStatusReq} {
		if codes[req] != "OK" {
			t.Errorf("%s answered %q under ac; steps %+v", req, codes[req], s.Steps)
		}
	}
	if s.Record.EVCCIDHex() != "007dfa09f9b2" || s.Record.SoC.Known {
		t.Errorf("EVCCID %q, SoC %+v", s.Record.EVCCIDHex(), s.Record.SoC)
	}
}

// TestErrors: encrypted sessions give their typed errors, from messages
// alone too; the -20 DC car, read with its key log, plays.
func TestErrors(t *testing.T) {
	tls := shared.Path(t, "captures", "dsv2gshark", "ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng")
	c, err := capture.Open(tls)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := capture.V2GTP(c.Frames())
	// Without the streams, the SDP answer offering TLS tells.
	if _, err := Run(context.Background(), msgs, Config{}); !errors.Is(err, ErrEncrypted) || err.Error() != "the V2G session is encrypted (TLS): nothing to replay" {
		t.Errorf("TLS: %v", err)
	}

	// The -20 DC car, its TLS read with the secrets the capture carries.
	dc := shared.Path(t, "captures", "dsv2gshark", "ISO-20_TLS13_DC_DS5366_Josev.pcapng")
	r, err := File(context.Background(), dc, Config{Keys: embeddedKeys(t, dc)})
	if err != nil {
		t.Fatalf("ISO-20 DC: %v", err)
	}
	s := r.Sessions[0]
	// Now that the charger serves -20 DC, the car plays (soc policy): OK
	// up to the first loop, which tells it to stop; its second loop
	// gets FAILED and the car closes.
	counts := map[string]int{}
	for _, st := range s.Steps {
		counts[st.Request.String()+" "+st.Code]++
	}
	want := map[string]int{
		"supportedAppProtocolReq OK_SuccessfulNegotiation": 1, "SessionSetupReq OK_NewSessionEstablished": 1,
		"AuthorizationSetupReq OK": 1, "AuthorizationReq OK": 1, "ServiceDiscoveryReq OK": 1, "ServiceDetailReq OK": 1,
		"ServiceSelectionReq OK": 1, "DC_ChargeParameterDiscoveryReq OK": 1, "ScheduleExchangeReq OK": 1,
		"DC_CableCheckReq OK": 24, "DC_PreChargeReq OK": 4, "PowerDeliveryReq OK": 1,
		"DC_ChargeLoopReq OK": 1, "DC_ChargeLoopReq FAILED": 1,
	}
	if len(s.Steps) != 40 || s.Unsent != 16 || s.Record.End != record.EndCarClosed || !reflect.DeepEqual(counts, want) ||
		s.Steps[0].Frame != 95 || s.Steps[39].Request != message.DC_ChargeLoopReq {
		t.Errorf("ISO-20 DC: %d steps %v, %d unsent, end %v", len(s.Steps), counts, s.Unsent, s.Record.End)
	}
	if s.Offered[0] != "urn:iso:std:iso:15118:-20:DC 1.0" || s.Recorded != secc.ProtocolISO20 {
		t.Errorf("offered %q, recorded %v", s.Offered, s.Recorded)
	}
	// Without them, or with another session's, it stays encrypted.
	if _, err := File(context.Background(), dc, Config{}); !errors.Is(err, ErrEncrypted) || err.Error() != "the V2G session is encrypted (TLS): nothing to replay" {
		t.Errorf("TLS without a key log: %v", err)
	}
	var nk *tlsread.NoKeyError
	if _, err := File(context.Background(), dc, Config{Keys: embeddedKeys(t, tls)}); !errors.Is(err, ErrEncrypted) || !errors.As(err, &nk) {
		t.Errorf("TLS with another session's key log: %v", err)
	}

	_, err = File(context.Background(), filepath.Join(t.TempDir(), "none.pcap"), Config{})
	var ce *CaptureError
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}

	if _, err := Run(context.Background(), nil, Config{}); !errors.Is(err, ErrNoSession) {
		t.Errorf("no messages: %v", err)
	}
}

// TestCanceled: a canceled context stops the replay with its error.
func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := File(ctx, shared.Path(t, "captures", "everest", "kia-ev6_din-dc.pcap"), Config{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestDamaged: a capture cut short replays up to the cut and says so.
func TestDamaged(t *testing.T) {
	r, err := File(context.Background(), shared.Path(t, "captures", "everest", "vw-id3_iso2-dc.pcap"), Config{Policy: secc.PolicyDC})
	if err != nil || r.ReadErr == nil {
		t.Fatalf("error %v, read error %v", err, r.ReadErr)
	}
	s := r.Sessions[0]
	if s.Record.End != record.EndCarClosed || s.Record.Detail != "the capture holds no further request" || s.Unsent != 0 {
		t.Errorf("end %v %q, %d unsent", s.Record.End, s.Record.Detail, s.Unsent)
	}
}

// BenchmarkRun replays a whole DIN DC session (605 requests) under the dc policy.
func BenchmarkRun(b *testing.B) {
	c, err := capture.Open(shared.Path(b, "captures", "everest", "kia-ev6_din-dc.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	msgs, _ := capture.V2GTP(c.Frames())
	b.ReportAllocs()
	for b.Loop() {
		r, err := Run(context.Background(), msgs, Config{Policy: secc.PolicyDC})
		if err != nil || len(r.Sessions[0].Steps) != 605 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/605, "ns/request")
}

// TestSeveralConnections: pyPLC as a car reconnects four times to a
// Supercharger; two connections end after the handshake. Each is its own
// session, and the report speaks of the first with a SessionSetupReq.
func TestSeveralConnections(t *testing.T) {
	r, err := File(context.Background(), shared.Path(t, "captures", "pyplc", "2023-03-02_SuperCharger_CableCheck_error.pcapng"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sessions) != 4 || r.Main() != &r.Sessions[0] {
		t.Fatalf("%d sessions, main %p of %p", len(r.Sessions), r.Main(), &r.Sessions[0])
	}
	ports := []uint16{59218, 59219, 59271, 59272}
	for i, s := range r.Sessions {
		if s.Car.Port() != ports[i] || s.Charger.Port() != 30000 || s.SDP == nil {
			t.Errorf("session %d: car %v, charger %v, SDP %v", i, s.Car, s.Charger, s.SDP)
		}
		onlySAP := i == 1 || i == 3
		if onlySAP != (len(s.Steps) == 1) || onlySAP != (s.Captured.EVCCID == nil) {
			t.Errorf("session %d: %d steps, EVCCID %v", i, len(s.Steps), s.Captured.EVCCID)
		}
		if onlySAP && (s.Record.End != record.EndCarClosed || s.Record.Detail != "the capture holds no further request" || s.Recorded != secc.ProtocolNone) {
			t.Errorf("session %d: end %v %q, recorded %v", i, s.Record.End, s.Record.Detail, s.Recorded)
		}
		// pyPLC sends an empty EVCCID: sent, but nothing to record.
		if !onlySAP && (len(s.Captured.EVCCID) != 0 || s.Record.EVCCID != nil || s.Record.SoC.Value != 20) {
			t.Errorf("session %d: EVCCID %v / %v, SoC %+v", i, s.Captured.EVCCID, s.Record.EVCCID, s.Record.SoC)
		}
	}
}

// embeddedKeys returns the key log that dSPACE's example captures carry,
// one line per UDP datagram to port 52345.
func embeddedKeys(t *testing.T, path string) *tlsread.KeyLog {
	t.Helper()
	c, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range c.Frames() {
		p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && u.DstPort == 52345 {
			b.Write(u.Payload)
			b.WriteByte('\n')
		}
	}
	k, err := tlsread.ReadKeyLog(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestISO20: a -20 AC car (bidirectional, as dSPACE's example) replayed
// against this charger: the session runs on the car's own messages, with
// our SessionID, up to the service this charger does not offer.
func TestISO20(t *testing.T) {
	r, err := File(context.Background(), shared.Path(t, "captures", "dsv2gshark", "ISO-20_BPT_AC_DS5366_Josev.pcapng"), Config{Policy: secc.PolicyAC})
	if err != nil || len(r.Sessions) != 1 {
		t.Fatalf("%v, %d sessions", err, len(r.Sessions))
	}
	s := r.Sessions[0]
	want := []Step{
		{Frame: 70, Request: message.SupportedAppProtocolReq, Code: "OK_SuccessfulNegotiation"},
		{Frame: 74, Request: message.SessionSetupReq, Code: "OK_NewSessionEstablished"},
		{Frame: 78, Request: message.AuthorizationSetupReq, Code: "OK"},
		{Frame: 82, Request: message.AuthorizationReq, Code: "OK", Processing: "Finished"},
		{Frame: 86, Request: message.ServiceDiscoveryReq, Code: "OK"},
		{Frame: 90, Request: message.ServiceDetailReq, Code: "FAILED_ServiceIDInvalid"},
	}
	if !equalSteps(s.Steps, want) || s.Unsent != 17 || s.Err != nil || s.Recorded != secc.ProtocolISO20 {
		t.Errorf("steps %+v, %d unsent, err %v, recorded %v", s.Steps, s.Unsent, s.Err, s.Recorded)
	}
	if string(s.Captured.EVCCID) != "WMIV1234567890ABCDEX" || s.Record.Protocol != "iso20" || s.Record.End != record.EndCarClosed {
		t.Errorf("EVCCID %q, protocol %q, end %v", s.Captured.EVCCID, s.Record.Protocol, s.Record.End)
	}
}
