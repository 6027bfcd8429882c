package timeline

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2g/message"
)

func read(t testing.TB, elem ...string) *Timeline {
	t.Helper()
	tl, err := File(shared.Path(t, append([]string{"captures"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func captures(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*/*.pcap", "*/*.pcapng"} {
		m, err := filepath.Glob(filepath.Join(shared.Path(t, "captures"), pat))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatal("no captures in the shared directory")
	}
	sort.Strings(out)
	return out
}

// Every capture reads without an error event, except an encrypted stream
// (one event per connection) and a capture cut short (one event).
func TestAllCaptures(t *testing.T) {
	for _, path := range captures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			tl, err := File(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(tl.Events) == 0 {
				t.Fatal("no events")
			}
			var encrypted, truncated int
			for i, e := range tl.Events {
				switch {
				case e.Err == nil:
				case errors.Is(e.Err, ErrEncrypted):
					encrypted++
				case errors.Is(e.Err, ErrTruncated) && e.Kind == KindCapture:
					truncated++
				default:
					t.Errorf("event %d at %v: %s %s: %v", i, e.T, e.Kind, e.Msg, e.Err)
				}
				if i > 0 && e.Frame < tl.Events[i-1].Frame {
					t.Errorf("event %d (frame %d) before event %d (frame %d)", i, e.Frame, i-1, tl.Events[i-1].Frame)
				}
				if e.Session < -1 || e.Session >= len(tl.Sessions) {
					t.Errorf("event %d: session %d of %d", i, e.Session, len(tl.Sessions))
				}
			}
			tls := strings.Contains(path, "TLS")
			if tls != (encrypted == 1) {
				t.Errorf("%d encrypted-stream events, want 1 only in TLS captures", encrypted)
			}
			if truncated > 1 {
				t.Errorf("%d truncation events, want at most 1", truncated)
			}
			for i, s := range tl.Sessions {
				if s.End == "" || s.CarMAC == "" {
					t.Errorf("session %d: %+v: no end or no car MAC", i, s)
				}
				if tls && !s.Encrypted {
					t.Errorf("session %d of a TLS capture not marked encrypted", i)
				}
			}
		})
	}
}

func intp(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func floatp(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestIoniq(t *testing.T) {
	tl := read(t, "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	if len(tl.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(tl.Sessions))
	}
	s := tl.Sessions[0]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"CarMAC", s.CarMAC, "04:65:65:00:64:c3"},
		{"RunID", s.RunID, "0465650064c30000"},
		{"NID", s.NID, "01020304050607"},
		{"Matched", s.Matched, true},
		{"Protocol", s.Protocol, "DIN 70121"},
		{"EVCCID", s.EVCCID, "0465650064c3"},
		{"SoC", intp(s.SoC), 93},
		{"FullSOC", intp(s.FullSOC), 94},
		{"BulkSOC", intp(s.BulkSOC), 83},
		{"EnergyCapacityWh", floatp(s.EnergyCapacityWh), 28000.0},
		{"EnergyRequestWh", floatp(s.EnergyRequestWh), 1820.0},
		{"Requests", s.Requests, 69},
		{"MaxTook", s.MaxTook, 217218 * time.Microsecond},
		{"End", s.End, "the capture ends after CurrentDemandRes"},
		{"Start", s.Start, 20816315 * time.Microsecond},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	byMsg := map[string]*Event{}
	for i := range tl.Events {
		e := &tl.Events[i]
		if byMsg[e.Msg] == nil {
			byMsg[e.Msg] = e
		}
	}
	want := []struct {
		msg    string
		dir    Dir
		count  int
		fields string
	}{
		{"CM_SLAC_PARM.REQ", CarToCharger, 1, "RunID=0465650064c30000 SecurityType=0"},
		{"CM_START_ATTEN_CHAR.IND", CarToCharger, 3, "RunID=0465650064c30000 NumSounds=10 TimeOut=600 ms"},
		{"CM_MNBC_SOUND.IND", CarToCharger, 10, "RunID=0465650064c30000 Cnt=9"},
		{"CM_ATTEN_CHAR.IND", ChargerToCar, 1, "RunID=0465650064c30000 SourceAddress=04:65:65:00:64:c3 NumSounds=10 Groups=58 Attenuation=9.5 dB"},
		{"CM_SLAC_MATCH.CNF", ChargerToCar, 1, "RunID=0465650064c30000 PEVMAC=04:65:65:00:64:c3 EVSEMAC=dc:0e:a1:11:67:08 NID=01020304050607"},
		{"SDP request", CarToCharger, 1, "Security=none Transport=TCP"},
		{"SDP response", ChargerToCar, 1, "Address=fe80::c690:83f3:fbcb:980e Port=15118 Security=none Transport=TCP"},
		{"supportedAppProtocolReq", CarToCharger, 1, "Offer1=DIN 70121 2.0 (SchemaID 1, priority 1)"},
		{"supportedAppProtocolRes", ChargerToCar, 1, "ResponseCode=OK_SuccessfulNegotiation SchemaID=1 Chosen=DIN 70121"},
		{"SessionSetupReq", CarToCharger, 1, "EVCCID=0465650064c3"},
		{"ChargeParameterDiscoveryReq", CarToCharger, 1, "EVReady=false EVErrorCode=NO_ERROR EVRESSSOC=93 % EVMaximumCurrentLimit=200 A " +
			"EVMaximumPowerLimit=98000 W EVMaximumVoltageLimit=412.8 V EVEnergyCapacity=28000 Wh EVEnergyRequest=1820 Wh FullSOC=94 % BulkSOC=83 %"},
		{"PreChargeReq", CarToCharger, 1, "EVReady=true EVErrorCode=NO_ERROR EVRESSSOC=93 % EVTargetVoltage=388.1 V EVTargetCurrent=1 A"},
		{"PreChargeRes", ChargerToCar, 1, "ResponseCode=OK EVSEIsolationStatus=Valid EVSEStatusCode=EVSE_NotReady EVSENotification=None EVSEPresentVoltage=219 V"},
	}
	for _, w := range want {
		e := byMsg[w.msg]
		if e == nil {
			t.Errorf("no %s event", w.msg)
			continue
		}
		var fs []string
		for _, f := range e.Fields {
			fs = append(fs, f.String())
		}
		if got := strings.Join(fs, " "); got != w.fields || e.Dir != w.dir || e.Count != w.count || e.Session != 0 || e.Err != nil {
			t.Errorf("%s: dir %q count %d session %d err %v fields\n %s\nwant dir %q count %d session 0 fields\n %s",
				w.msg, e.Dir, e.Count, e.Session, e.Err, got, w.dir, w.count, w.fields)
		}
	}
	if e := byMsg["supportedAppProtocolRes"]; !e.Answer || e.Took != 124620*time.Microsecond {
		t.Errorf("supportedAppProtocolRes answered %v in %v, want in 124.62 ms", e.Answer, e.Took)
	}
	if e := byMsg["SessionSetupReq"]; e.Answer {
		t.Error("a request marked as an answer")
	}
}

// The Tesla's RunID spells TESLA EV; the charger (EVerest) answers every request.
func TestTesla(t *testing.T) {
	tl := read(t, "everest", "tesla-model3_din-dc.pcap")
	if len(tl.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(tl.Sessions))
	}
	s := tl.Sessions[0]
	if s.RunID != "5445534c41204556" || s.Protocol != "DIN 70121" || s.EVCCID != "dc44271dcd45" ||
		intp(s.SoC) != 57 || s.FullSOC != nil || s.CarMAC != "dc:44:27:1d:cd:45" || s.NID != "342d5ae2e5fa01" ||
		s.End != "the car ended the session (SessionStop)" || s.Requests != 2214 {
		t.Errorf("summary %+v", s)
	}
	var parm *Event
	answers, requests := 0, 0
	var took []time.Duration
	for i := range tl.Events {
		e := &tl.Events[i]
		if e.Msg == "CM_SLAC_PARM.REQ" && parm == nil {
			parm = e
		}
		if e.Kind == KindV2G || e.Kind == KindHandshake {
			if e.Dir == CarToCharger {
				requests++
			} else if e.Answer {
				answers++
				took = append(took, e.Took)
			}
		}
	}
	if parm == nil || parm.Field("RunIDText") != "TESLA EV" || parm.Field("RunID") != "5445534c41204556" {
		t.Errorf("CM_SLAC_PARM.REQ %+v, want RunID 5445534c41204556 (TESLA EV)", parm)
	}
	if requests != 2214 || answers != 2214 {
		t.Errorf("%d requests, %d answers; want 2214 each", requests, answers)
	}
	// What the capture shows: the handshake answered in about 2 ms, every
	// other answer about 99 ms after its request.
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	if p50 := took[len(took)/2]; p50 < 95*time.Millisecond || p50 > 101*time.Millisecond {
		t.Errorf("median answer time %v, want 95-101 ms", p50)
	}
	if took[len(took)-1] != s.MaxTook || s.MaxTook > 110*time.Millisecond || took[0] <= 0 {
		t.Errorf("answer times from %v to %v (MaxTook %v)", took[0], took[len(took)-1], s.MaxTook)
	}
}

// An ISO 15118-2 AC session: no SoC, the EVCCID and the energy amount.
func TestISO2AC(t *testing.T) {
	tl := read(t, "everest", "polestar2_iso2-ac.pcap")
	if len(tl.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(tl.Sessions))
	}
	s := tl.Sessions[0]
	if s.Protocol != "ISO 15118-2" || s.EVCCID != "48c58db8de5a" || s.SoC != nil || s.FullSOC != nil ||
		s.EnergyCapacityWh != nil || floatp(s.EnergyRequestWh) != 9460.0 || s.CarMAC != "48:c5:8d:b8:de:5a" ||
		s.Requests != 7 || s.MaxTook != 99274*time.Microsecond {
		t.Errorf("summary %+v", s)
	}
	var got []string
	for _, e := range tl.Events {
		if e.Kind == KindHandshake || e.Kind == KindV2G {
			got = append(got, e.Msg+" "+string(e.Dir)+" "+e.Took.String())
		}
	}
	want := []string{
		"supportedAppProtocolReq car->charger 0s",
		"supportedAppProtocolRes charger->car 1.995ms",
		"SessionSetupReq car->charger 0s",
		"SessionSetupRes charger->car 98.71ms",
		"ServiceDiscoveryReq car->charger 0s",
		"ServiceDiscoveryRes charger->car 98.441ms",
		"PaymentServiceSelectionReq car->charger 0s",
		"PaymentServiceSelectionRes charger->car 99.274ms",
		"AuthorizationReq car->charger 0s",
		"AuthorizationRes charger->car 98.776ms",
		"AuthorizationReq car->charger 0s",
		"AuthorizationRes charger->car 99.239ms",
		"ChargeParameterDiscoveryReq car->charger 0s",
		"ChargeParameterDiscoveryRes charger->car 98.947ms",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("V2G events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// An ISO 15118-20 AC session decodes with the common and the AC codecs.
func TestISO20AC(t *testing.T) {
	tl := read(t, "dsv2gshark", "ISO-20_BPT_AC_DS5366_Josev.pcapng")
	if len(tl.Sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(tl.Sessions))
	}
	if s := tl.Sessions[0]; s.Matched || s.End != "SLAC did not match" {
		t.Errorf("first session %+v, want SLAC not matched", s)
	}
	s := tl.Sessions[1]
	if s.Protocol != "ISO 15118-20 AC" || s.EVCCID != "WMIV1234567890ABCDEX" || s.End != "the car ended the session (SessionStop)" ||
		intp(s.SoC) != 10 || floatp(s.EnergyRequestWh) != 10000.0 || s.EnergyCapacityWh != nil {
		t.Errorf("summary %+v", s)
	}
	names := map[string]bool{}
	for _, e := range tl.Events {
		names[e.Msg] = true
	}
	for _, n := range []string{"SessionSetupReq", "AC_ChargeParameterDiscoveryReq", "AC_ChargeLoopReq", "SessionStopRes"} {
		if !names[n] {
			t.Errorf("no %s event", n)
		}
	}
	kinds := messageKinds(t, tl)
	for _, k := range []message.Kind{message.SupportedAppProtocolReq, message.SupportedAppProtocolRes, message.SessionSetupReq,
		message.AuthorizationSetupReq, message.ScheduleExchangeReq, message.AC_ChargeParameterDiscoveryReq,
		message.AC_ChargeParameterDiscoveryRes, message.AC_ChargeLoopReq, message.PowerDeliveryReq, message.SessionStopRes} {
		if kinds[k] == 0 {
			t.Errorf("no event of kind %v", k)
		}
	}
}

// messageKinds counts the kinds of a timeline's V2G and handshake events,
// checking that each decoded one has a kind named as its Msg, and every
// other event none.
func messageKinds(t *testing.T, tl *Timeline) map[message.Kind]int {
	t.Helper()
	kinds := map[message.Kind]int{}
	for _, e := range tl.Events {
		v2g := (e.Kind == KindV2G || e.Kind == KindHandshake) && e.Err == nil
		if v2g && (e.Message == message.None || e.Message.String() != e.Msg) || !v2g && e.Message != message.None {
			t.Errorf("frame %d (%v %s): kind %v", e.Frame, e.Kind, e.Msg, e.Message)
		}
		kinds[e.Message]++
	}
	return kinds
}

// TestMessageKinds checks the kinds of a DIN and an ISO-2 session's
// messages, counted: the Ioniq's DIN session (cut off in its charge loop)
// and dSPACE's ISO-2 DC one.
func TestMessageKinds(t *testing.T) {
	kinds := messageKinds(t, read(t, "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	for k, n := range map[message.Kind]int{message.SupportedAppProtocolReq: 1, message.SupportedAppProtocolRes: 1, message.SessionSetupReq: 1,
		message.ChargeParameterDiscoveryReq: 1, message.ChargeParameterDiscoveryRes: 1, message.PreChargeReq: 11,
		message.CurrentDemandReq: 50, message.CurrentDemandRes: 50, message.SessionStopReq: 0} {
		if kinds[k] != n {
			t.Errorf("Ioniq: %d %v, want %d", kinds[k], k, n)
		}
	}
	kinds = messageKinds(t, read(t, "dsv2gshark", "ISO-2_DC_DS5366.pcapng"))
	for _, k := range []message.Kind{message.PaymentServiceSelectionReq, message.AuthorizationReq, message.CableCheckReq, message.CurrentDemandReq, message.WeldingDetectionRes} {
		if kinds[k] == 0 {
			t.Errorf("ISO-2 DC: no %v", k)
		}
	}
}

func TestEncrypted(t *testing.T) {
	tl := read(t, "dsv2gshark", "ISO-20_TLS13_DC_DS5366_Josev.pcapng")
	var errs []Event
	for _, e := range tl.Events {
		if e.Err != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0].Err, ErrEncrypted) || errs[0].Kind != KindStream || errs[0].Session != 0 || errs[0].Frame != 73 {
		t.Fatalf("error events %+v, want one encrypted stream of session 0", errs)
	}
	if s := tl.Sessions[0]; !s.Encrypted || s.End != "the V2G session is encrypted (TLS)" || !s.Matched {
		t.Errorf("summary %+v", s)
	}
}

func TestCutShort(t *testing.T) {
	tl := read(t, "everest", "vw-id3_iso2-dc.pcap")
	last := tl.Events[len(tl.Events)-1]
	if last.Kind != KindCapture || !errors.Is(last.Err, ErrTruncated) || last.Frame != 348 {
		t.Errorf("last event %+v, want the capture cut short after frame 348", last)
	}
	if s := tl.Sessions[0]; intp(s.SoC) != 74 || s.EVCCID != "007dfa0790af" || s.End != "the capture ends after CurrentDemandReq" {
		t.Errorf("summary %+v", s)
	}
}

// Two cars one after the other: a summary each.
func TestTwoCars(t *testing.T) {
	tl := read(t, "everest", "vw-id3_iso2-ac.pcap")
	if len(tl.Sessions) != 2 {
		t.Fatalf("%d sessions, want 2", len(tl.Sessions))
	}
	a, b := tl.Sessions[0], tl.Sessions[1]
	if a.CarMAC != "00:7d:fa:07:f6:83" || a.EVCCID != "007dfa07f683" || b.CarMAC != "00:7d:fa:06:65:a0" || b.EVCCID != "007dfa0665a0" ||
		a.End != "the car ended the session (SessionStop)" || b.End != "the capture ends after PowerDeliveryRes" || a.Stop >= b.Start {
		t.Errorf("sessions\n%+v\n%+v", a, b)
	}
}

func TestUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(path, []byte("not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tl, err := File(path); !errors.Is(err, ErrUnreadable) || tl != nil {
		t.Errorf("File of a text file = %v, %v; want ErrUnreadable", tl, err)
	}
}

func TestSLACFailures(t *testing.T) {
	tl := read(t, "pyplc", "2023-05-03_TaycanRightside_slacFail.pcapng")
	if len(tl.Sessions) != 5 {
		t.Fatalf("%d sessions, want 5", len(tl.Sessions))
	}
	for i, s := range tl.Sessions {
		if s.Matched || s.End != "SLAC did not match" || s.CarMAC != "00:18:87:00:a1:d6" {
			t.Errorf("session %d: %+v", i, s)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	c := shared.Path(b, "captures", "everest", "tesla-model3_din-dc.pcap") // the biggest
	fi, err := os.Stat(c)
	if err != nil {
		b.Fatal(err)
	}
	frames := framesOf(b, c)
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for b.Loop() {
		Read(frames)
	}
}

// A V2G message whose EXI is garbage gives one error event, and the
// session goes on.
func TestUndecodableMessage(t *testing.T) {
	frames := framesOf(t, shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	var cpd Event
	for _, e := range Read(frames).Events {
		if e.Msg == "ChargeParameterDiscoveryReq" {
			cpd = e
			break
		}
	}
	bad := slices.Clone(frames)
	d := slices.Clone(bad[cpd.Frame].Data)
	i := bytes.Index(d, []byte{0x01, 0xfe, 0x80, 0x01})
	if i < 0 {
		t.Fatal("no V2GTP header in the request's frame")
	}
	for j := i + 8; j < len(d); j++ {
		d[j] = 0xff
	}
	bad[cpd.Frame].Data = d
	tl := Read(bad)
	var errs []Event
	for _, e := range tl.Events {
		if e.Err != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) != 1 || errs[0].Frame != cpd.Frame || errs[0].Dir != CarToCharger || errs[0].Kind != KindV2G ||
		!errors.Is(errs[0].Err, ErrUndecodable) || errs[0].Msg != "EXI" {
		t.Fatalf("error events %+v, want one undecodable request", errs)
	}
	if msg := errs[0].Err.Error(); !strings.HasPrefix(msg, "the message could not be decoded: 45 bytes of EXI: ") {
		t.Errorf("error %q", msg)
	}
	if s := tl.Sessions[0]; s.SoC == nil || *s.SoC != 93 || s.EnergyCapacityWh != nil || s.EVCCID != "0465650064c3" {
		t.Errorf("summary %+v: want the SoC from a later request, no capacity", s)
	}
}
