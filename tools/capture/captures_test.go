package capture

import (
	"bufio"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// want holds facts about each shared capture, counted independently with
// tshark 4.0: HomePlug frames (eth.type or vlan.etype 0x88e1), V2GTP
// messages in SDP datagrams and in the TCP streams that "Follow TCP
// stream" reassembles and that start with 01 fe, and the TCP directions
// that carry other bytes.
type want struct {
	frames, homePlug, udp, tcp int
	skipped                    map[string]int // Stream.Reason -> directions
	cut                        bool           // the file ends inside a frame
}

var captures = map[string]want{
	"dsv2gshark/DIN_DC_DS5366_Josev.pcapng":                                                            {443, 115, 2, 200, nil, false},
	"dsv2gshark/IEC61851_AC_PWM_Basic.pcapng":                                                          {35, 35, 0, 0, nil, false},
	"dsv2gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng":                                                     {192, 94, 2, 46, nil, false},
	"dsv2gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng":                                                   {333, 113, 2, 0, tls, false},
	"dsv2gshark/ISO-20_mTLS_DC_DS5366_Josev.pcapng":                                                    {325, 90, 2, 0, tls, false},
	"dsv2gshark/ISO-2_AC_DS5366.pcapng":                                                                {1110, 81, 2, 510, nil, false},
	"dsv2gshark/ISO-2_AC_PnC_TLS_Contract_MeteringReceipt_DS5366_RiseV2G.pcapng":                       {237, 82, 2, 0, tls, false},
	"dsv2gshark/ISO-2_DC_BatteryDataExchange_DS5366_RiseV2G.pcapng":                                    {540, 139, 2, 184, map[string]int{ReasonNotV2GTP: 1}, false},
	"dsv2gshark/ISO-2_DC_DS5366.pcapng":                                                                {2085, 128, 2, 974, nil, false},
	"dsv2gshark/ISO-2_DC_Pause_DS5366.pcapng":                                                          {1186, 212, 4, 478, nil, false},
	"dsv2gshark/ISO-2_DC_PnC_TLS_CertInstallation_DS5366_RiseV2G.pcapng":                               {537, 113, 2, 0, tls, false},
	"dsv2gshark/ISO-2_DC_PnC_TLS_CertUpdate_DS5366_RiseV2G.pcapng":                                     {542, 116, 2, 0, tls, false},
	"dsv2gshark/ISO-2_DC_PnC_TLS_Contract_DS5366_RiseV2G.pcapng":                                       {524, 113, 2, 0, tls, false},
	"dsv2gshark/ISO-2_DC_Renegotiation_DS5366_RiseV2G.pcapng":                                          {769, 129, 2, 316, nil, false},
	"dsv2gshark/ISO-2_DC_SalesTariffSchedule_DS5366_RiseV2G.pcapng":                                    {568, 140, 2, 210, nil, false},
	"dsv2gshark/ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng":                                          {440, 103, 2, 178, nil, false},
	"everest/bmw-ix_din-dc.pcap":                                                                       {3157, 35, 2, 1230, nil, false},
	"everest/bmw-ix_iso2-dc.pcap":                                                                      {2833, 35, 2, 1102, nil, false},
	"everest/kia-ev6_din-dc.pcap":                                                                      {2474, 35, 2, 1210, nil, false},
	"everest/kia-ev6_iso2-dc.pcap":                                                                     {6336, 35, 2, 3134, nil, false},
	"everest/mercedes-eqe_din-dc.pcap":                                                                 {302, 35, 2, 98, nil, false},
	"everest/mercedes-eqe_iso2-ac.pcap":                                                                {122, 33, 2, 32, nil, true},
	"everest/mercedes-eqe_iso2-dc.pcap":                                                                {743, 35, 2, 274, nil, false},
	"everest/polestar2_iso2-ac.pcap":                                                                   {83, 35, 2, 14, nil, false},
	"everest/skoda-enyaq_iso2-ac.pcap":                                                                 {312, 41, 2, 96, nil, false},
	"everest/tesla-model3_din-dc.pcap":                                                                 {7619, 35, 2, 4428, nil, false},
	"everest/vw-id3_din-dc.pcap":                                                                       {716, 35, 2, 242, nil, false},
	"everest/vw-id3_iso2-ac.pcap":                                                                      {197, 64, 4, 34, nil, false},
	"everest/vw-id3_iso2-dc.pcap":                                                                      {348, 33, 2, 111, nil, true},
	"pyplc/2022-11-25_v0.2_ABB_until_ChargeParamDiscovery.pcapng":                                      {488, 214, 2, 9, nil, false},
	"pyplc/2023-03-02_SuperCharger_CableCheck_error.pcapng":                                            {3398, 338, 3, 212, nil, false},
	"pyplc/2023-04-19_compleo_pyPlc_lightbulb_failedBadRegulation.pcapng":                              {3549, 175, 28, 284, nil, false},
	"pyplc/2023-05-03_TaycanLeftside_slacFail.pcapng":                                                  {28, 14, 0, 0, nil, false},
	"pyplc/2023-05-03_TaycanRightside_slacFail.pcapng":                                                 {54, 30, 0, 0, nil, false},
	"pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng":                                                 {730, 43, 2, 138, nil, false},
	"pyplc/2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng":                                           {589, 86, 2, 274, nil, false},
	"pyplc/2024-06-11_Griffigroen_polestar2_stop_in_precharge.pcapng":                                  {412, 56, 2, 52, nil, false},
	"pyplc/2024-06-18_Griffigroen_pyPLC_polestar2_discharging_with_additional_prechargeCircuit.pcapng": {1223, 51, 2, 186, nil, false},
	"pyplc/spi_ioniq_alpiHYC150_makerspace_landsberg_left_small_2024-04-03_ok.csv.pcap":                {1751, 45, 2, 1120, nil, false},
}

// tls: both directions of the one connection are TLS.
var tls = map[string]int{ReasonTLS: 2}

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
	return dir, files
}

func TestEveryCapture(t *testing.T) {
	dir, files := captureFiles(t)
	seen := map[string]bool{}
	for _, name := range files {
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			c, err := Open(filepath.Join(dir, name))
			w, known := captures[name]
			if err != nil && !(w.cut && errors.Is(err, io.ErrUnexpectedEOF)) {
				t.Fatal(err)
			}
			if w.cut && err == nil {
				t.Error("file is known to be cut short, but read without error")
			}
			frames := c.Frames()
			msgs, streams := V2GTP(frames)
			for _, m := range msgs {
				if int(m.Header.Length) != len(m.Payload) || m.Frame < 0 || m.Frame >= len(frames) || !m.Time.Equal(frames[m.Frame].Time) {
					t.Fatalf("inconsistent message %+v", m)
				}
			}
			if !known {
				t.Logf("not in the table: %d frames, %d messages", len(frames), len(msgs))
				return
			}
			count := map[string]int{}
			for _, m := range msgs {
				count[m.Transport]++
			}
			skipped := map[string]int{}
			for _, s := range streams {
				if s.Transport == "tcp" && s.Reason != "" {
					skipped[s.Reason]++
					if s.Messages != 0 || s.Skipped != s.Bytes {
						t.Errorf("stream partly decoded: %+v", s)
					}
				}
				if s.Gaps != 0 {
					t.Errorf("gap in %+v", s)
				}
			}
			if w.skipped == nil {
				w.skipped = map[string]int{}
			}
			got := want{len(frames), len(HomePlug(frames)), count["udp"], count["tcp"], skipped, err != nil}
			if got.frames != w.frames || got.homePlug != w.homePlug || got.udp != w.udp || got.tcp != w.tcp || !equalMaps(got.skipped, w.skipped) {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if c.Skipped() != 0 {
				t.Errorf("%d non-Ethernet frames", c.Skipped())
			}
		})
	}
	for name := range captures {
		if !seen[name] {
			t.Errorf("%s is in the table but not in shared/captures", name)
		}
	}
}

func equalMaps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestIoniq(t *testing.T) {
	c, err := Open(shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := V2GTP(c.Frames())
	car := netip.MustParseAddr("fe80::665:65ff:fe00:64c3")
	pyplc := netip.MustParseAddr("fe80::c690:83f3:fbcb:980e")

	// SDP: frames 97 and 98 in Wireshark's numbering.
	if msgs[0].Frame != 96 || msgs[0].Header != (v2gtp.Header{Type: v2gtp.TypeSDPRequest, Length: 2}) || msgs[0].Src.Addr() != car || msgs[0].Dst != netip.MustParseAddrPort("[ff02::1]:15118") {
		t.Errorf("SDP request %+v", msgs[0])
	}
	if q, err := v2gtp.ParseSDPRequest(msgs[0].Payload); err != nil || q != (v2gtp.SDPRequest{Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}) {
		t.Errorf("SDP request %+v %v", q, err)
	}
	r, err := v2gtp.ParseSDPResponse(msgs[1].Payload)
	if msgs[1].Frame != 97 || err != nil || r != (v2gtp.SDPResponse{IP: pyplc, Port: 15118, Security: v2gtp.SecurityNone, Transport: v2gtp.TransportTCP}) {
		t.Errorf("SDP response %+v %+v %v", msgs[1], r, err)
	}

	// The car's SupportedAppProtocolReq, offering DIN only (frame 106).
	m := msgs[2]
	const sap = "8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040"
	if got := hex.EncodeToString(m.Payload); got != sap {
		t.Errorf("first TCP payload %s, want %s", got, sap)
	}
	when := time.Date(2023, 5, 24, 18, 34, 9, 46679000, time.UTC)
	if m.Frame != 105 || !m.Time.Equal(when) || m.Transport != "tcp" ||
		m.Src != netip.AddrPortFrom(car, 50106) || m.Dst != netip.AddrPortFrom(pyplc, 15118) || m.Header.Type != v2gtp.TypeEXI {
		t.Errorf("first TCP message %+v", m)
	}
}

func TestMultiEVSEVLAN(t *testing.T) {
	// Every frame of this simulator capture carries an 802.1Q tag.
	c, err := Open(shared.Path(t, "captures", "dsv2gshark", "ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	tagged := 0
	for _, f := range c.Frames() {
		if len(f.Data) > 13 && f.Data[12] == 0x81 && f.Data[13] == 0x00 {
			tagged++
		}
	}
	hp := HomePlug(c.Frames())
	if tagged != len(c.Frames()) || len(hp) != 103 {
		t.Fatalf("%d of %d frames tagged, %d HomePlug", tagged, len(c.Frames()), len(hp))
	}
	for _, f := range hp {
		if f.Data[12] != 0x88 || f.Data[13] != 0xE1 {
			t.Fatalf("tag left in %x", f.Data[:16])
		}
	}
}

// decodedLine is one "Packet #N [local time] HEX means:" line that pyPLC's
// pcapConverter.py wrote for each TCP segment with an EXI payload.
var decodedLine = regexp.MustCompile(`^Packet #\d+ \[([0-9-]+ [0-9:.]+)\] ([0-9a-f]+) means:`)

// TestPyPLCDecoded checks the messages against the hex that pyPLC's own
// converter printed for the same captures. The converter works per segment
// and so lists retransmissions again; its times are local.
func TestPyPLCDecoded(t *testing.T) {
	dir := shared.Path(t, "captures", "pyplc")
	names, _ := filepath.Glob(filepath.Join(dir, "*.pcapng.decoded.txt"))
	if len(names) == 0 {
		t.Fatal("no pyPLC decoded.txt files")
	}
	checked := 0
	for _, name := range names {
		type entry struct {
			t   time.Time
			hex string
		}
		var entries []entry
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := decodedLine.FindStringSubmatch(sc.Text()); m != nil {
				tm, err := time.Parse("2006-01-02 15:04:05.999999", m[1])
				if err != nil {
					t.Fatal(err)
				}
				entries = append(entries, entry{tm, m[2]})
			}
		}
		f.Close()
		if len(entries) == 0 {
			continue // another format, written from pyPLC's log rather than a capture
		}
		base := filepath.Base(strings.TrimSuffix(name, ".decoded.txt"))
		t.Run(base, func(t *testing.T) {
			c, err := Open(strings.TrimSuffix(name, ".decoded.txt"))
			if err != nil {
				t.Fatal(err)
			}
			msgs, _ := V2GTP(c.Frames())
			var tcp []Message
			for _, m := range msgs {
				if m.Transport == "tcp" {
					tcp = append(tcp, m)
				}
			}
			// pcapConverter.py prints times as float seconds rounded to
			// microseconds: allow 1 µs either way.
			offset := entries[0].t.Sub(tcp[0].Time).Round(time.Second)
			if offset%time.Hour != 0 {
				t.Fatalf("first entry at %v, first message at %v: not a time zone apart", entries[0].t, tcp[0].Time)
			}
			byTime := map[time.Time][]int{}
			for i, m := range tcp {
				k := m.Time.Add(offset).Truncate(time.Microsecond)
				byTime[k] = append(byTime[k], i)
			}
			used := make([]bool, len(tcp))
			sent := map[string]bool{}
			matched, resent := 0, 0
		entries:
			for _, e := range entries {
				for _, k := range []time.Time{e.t, e.t.Add(-time.Microsecond), e.t.Add(time.Microsecond)} {
					for _, i := range byTime[k] {
						if h := hex.EncodeToString(tcp[i].Payload); !used[i] && h == e.hex {
							used[i], sent[h] = true, true
							matched++
							continue entries
						}
					}
				}
				if sent[e.hex] {
					resent++ // a retransmitted segment, listed again
				} else {
					t.Errorf("%v %s: no such message", e.t, e.hex)
				}
			}
			if matched != len(tcp) {
				t.Errorf("%d of %d messages matched", matched, len(tcp))
			}
			t.Logf("%d messages match, %d retransmissions", matched, resent)
			checked++
		})
	}
	if checked < 5 {
		t.Errorf("only %d decoded.txt files checked", checked)
	}
}
