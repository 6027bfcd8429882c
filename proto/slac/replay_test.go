package slac_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// captured is one HomePlug frame of a capture.
type captured struct {
	at    time.Time
	frame []byte
	h     homeplug.Header
	msg   homeplug.Message
}

// readHomePlug returns the HomePlug frames of a pcap or pcapng file, VLAN tags removed.
func readHomePlug(t testing.TB, path string) []captured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic, err := r.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	var next func() ([]byte, time.Time, error)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(r, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, time.Time, error) { d, ci, err := ng.ReadPacketData(); return d, ci.Timestamp, err }
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		next = func() ([]byte, time.Time, error) { d, ci, err := pr.ReadPacketData(); return d, ci.Timestamp, err }
	}
	var out []captured
	for {
		d, ts, err := next()
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			break // some EVerest captures are cut off in the middle of a frame
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		d = slices.Clone(d)
		for len(d) >= 18 && d[12] == 0x81 && d[13] == 0x00 {
			d = append(d[:12], d[16:]...) // 802.1Q tag
		}
		if len(d) < 14 || d[12] != 0x88 || d[13] != 0xe1 {
			continue
		}
		fr, err := homeplug.Decode(d)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, captured{at: ts, frame: d, h: fr.Header, msg: fr.Message})
	}
	return out
}

func captureFiles(t *testing.T) []string {
	dir := shared.Path(t, "captures")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no captures")
	}
	return files
}

// replay feeds frames to m at their recorded times (fake time: the recorded
// timestamps), running every timer that falls due between them, and returns
// what m sent with the time it sent it.
func replay(m *slac.Matcher, frames []captured) []captured {
	var sent []captured
	emit := func(now time.Time, out [][]byte) {
		for _, f := range out {
			f = slices.Clone(f)
			fr, err := homeplug.Decode(f)
			if err != nil {
				panic(err)
			}
			sent = append(sent, captured{at: now, frame: f, h: fr.Header, msg: fr.Message})
		}
	}
	for _, c := range frames {
		for {
			dl, ok := m.Deadline()
			if !ok || dl.After(c.at) {
				break
			}
			emit(dl, m.Tick(dl))
		}
		emit(c.at, m.Handle(c.at, c.frame))
	}
	// Let the last timers run, as the charger's would after the capture ended.
	for i := 0; i < 100; i++ {
		dl, ok := m.Deadline()
		if !ok {
			break
		}
		emit(dl, m.Tick(dl))
	}
	return sent
}

// TestCaptureReplay replays each real car's SLAC frames, in recorded order
// and timing, against the EVSE matcher: it must match that car and RunID.
// The charger's modem's ATTEN_PROFILE.IND are replayed too when the capture
// was taken on the charger; a second run without them must match as well,
// with plausible values.
func TestCaptureReplay(t *testing.T) {
	for _, path := range captureFiles(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			frames := readHomePlug(t, path)
			var req *homeplug.SlacMatchReq
			var car homeplug.MAC
			for _, c := range frames {
				if m, ok := c.msg.(*homeplug.SlacMatchReq); ok {
					req, car = m, c.h.Src
					break
				}
			}
			if req == nil {
				t.Skip("no CM_SLAC_MATCH.REQ: the car never completed matching here")
			}
			charger := req.EVSEMAC
			var chargerModem homeplug.MAC
			for _, c := range frames {
				if c.h.MMType == homeplug.CMSetKeyCnf && c.h.Dst == charger {
					chargerModem = c.h.Src
				}
			}
			var carFrames, withProfiles []captured
			for _, c := range frames {
				if c.h.Src == car {
					carFrames = append(carFrames, c)
					withProfiles = append(withProfiles, c)
				}
				if p, ok := c.msg.(*homeplug.AttenProfileInd); ok && p.PEVMAC == car && c.h.Src == chargerModem {
					withProfiles = append(withProfiles, c)
				}
			}
			for _, run := range []struct {
				name   string
				frames []captured
			}{{"car+profiles", withProfiles}, {"car only", carFrames}} {
				var start time.Time
				for _, c := range run.frames {
					if c.h.MMType == homeplug.CMSlacParmReq {
						start = c.at // the charger's PWM started before; its log is not in the capture
						break
					}
				}
				m := keyed(slac.NewMatcher(slac.Config{MAC: charger, LinkPoll: -1}, start), start)
				sent := replay(m, run.frames)
				r, ok := m.Result()
				if !ok {
					t.Fatalf("%s: no match: %v", run.name, m.Err())
				}
				if r.EVMAC != car || r.RunID != req.RunID {
					t.Errorf("%s: matched %v run %v, want %v run %v", run.name, r.EVMAC, r.RunID, car, req.RunID)
				}
				if strings.Contains(name, "tesla") || strings.Contains(name, "ModelY") {
					if string(r.RunID[:]) != "TESLA EV" {
						t.Errorf("Tesla RunID %q", r.RunID[:])
					}
				}
				for _, s := range sent {
					var rid homeplug.RunID
					switch m := s.msg.(type) {
					case *homeplug.SlacParmCnf:
						rid = m.RunID
					case *homeplug.AttenCharInd:
						rid = m.RunID
					case *homeplug.SlacMatchCnf:
						rid = m.RunID
					default:
						continue
					}
					if s.h.Dst == car && rid != r.RunID && !hasParmReq(run.frames, car, rid) {
						t.Errorf("%s: %v to the car carries RunID %v, which the car never sent", run.name, s.h.MMType, rid)
					}
				}
				t.Logf("%s: car %v run %q sounds %d profiles %d attenuation %.1f dB plausible %v; IND at %v, MATCH.CNF at %v; %d attempts, %d restarts",
					run.name, r.EVMAC, printable(r.RunID), r.Sounds, r.Profiles, r.AttenuationDB, r.Plausible,
					r.Timings.AttenChar, r.Timings.MatchCnf, r.Attempts, r.Restarts)
				if run.name == "car only" && !r.Plausible {
					t.Errorf("no profiles replayed but values not flagged plausible")
				}
				if run.name == "car+profiles" && r.Profiles > 0 {
					compareWithRecorded(t, frames, charger, car, r, sent)
				}
			}
		})
	}
}

// compareWithRecorded checks our averages against the recorded charger's own
// CM_ATTEN_CHAR.IND for the same sounds: rounding may differ by 1 dB.
func compareWithRecorded(t *testing.T, frames []captured, charger, car homeplug.MAC, r slac.Result, sent []captured) {
	t.Helper()
	var rec, ours *homeplug.AttenCharInd
	for _, c := range frames {
		if m, ok := c.msg.(*homeplug.AttenCharInd); ok && c.h.Src == charger && m.RunID == r.RunID && c.h.Dst == car {
			rec = m
		}
	}
	for _, s := range sent {
		if m, ok := s.msg.(*homeplug.AttenCharInd); ok && m.RunID == r.RunID {
			ours = m
		}
	}
	if rec == nil || ours == nil || len(rec.AAG) != len(ours.AAG) {
		return
	}
	// Some chargers subtract a constant (Josev: about 5 dB): compare the shape.
	offset := 0
	for i := range rec.AAG {
		offset += int(ours.AAG[i]) - int(rec.AAG[i])
	}
	offset = (offset + len(rec.AAG)/2) / len(rec.AAG)
	worst := 0
	for i := range rec.AAG {
		worst = max(worst, abs(int(ours.AAG[i])-int(rec.AAG[i])-offset))
	}
	t.Logf("our averages differ from the recorded charger's by %d dB, ±%d dB", offset, worst)
	if offset == 0 && worst > 1 {
		t.Errorf("averages differ from the recorded charger's by up to %d dB", worst)
	}
}

func hasParmReq(frames []captured, car homeplug.MAC, run homeplug.RunID) bool {
	for _, c := range frames {
		if m, ok := c.msg.(*homeplug.SlacParmReq); ok && c.h.Src == car && m.RunID == run {
			return true
		}
	}
	return false
}

func printable(r homeplug.RunID) string {
	for _, b := range r {
		if b < 0x20 || b > 0x7e {
			return r.String()
		}
	}
	return string(r[:])
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
