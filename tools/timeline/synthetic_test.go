package timeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/tools/capture"
)

var (
	carMAC  = homeplug.MAC{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}
	evseMAC = homeplug.MAC{0xdc, 0x0e, 0xa1, 0x11, 0x67, 0x08}
	run     = homeplug.RunID{'T', 'E', 'S', 'L', 'A', ' ', 'E', 'V'}
)

func hp(m homeplug.Message, src, dst homeplug.MAC) []byte {
	b, err := homeplug.AppendFrame(nil, homeplug.NewHeader(dst, src, m.MMType()), m)
	if err != nil {
		panic(err)
	}
	return b
}

// syntheticFrames is one SLAC run made by hand: the parameters, three
// START_ATTEN_CHAR, ten sounds, the attenuation and the match, then a
// truncated frame.
func syntheticFrames() []capture.Frame {
	var data [][]byte
	data = append(data, hp(&homeplug.SlacParmReq{RunID: run}, carMAC, homeplug.BroadcastMAC))
	data = append(data, hp(&homeplug.SlacParmCnf{RunID: run, NumSounds: 10, TimeOut: 6}, evseMAC, carMAC))
	for range 3 {
		data = append(data, hp(&homeplug.StartAttenCharInd{RunID: run, NumSounds: 10, TimeOut: 6}, carMAC, homeplug.BroadcastMAC))
	}
	for i := range 10 {
		data = append(data, hp(&homeplug.MnbcSoundInd{RunID: run, Cnt: uint8(9 - i)}, carMAC, homeplug.BroadcastMAC))
	}
	aag := make([]byte, 58)
	for i := range aag {
		aag[i] = byte(20 + i%2) // mean 20.5 dB
	}
	data = append(data, hp(&homeplug.AttenCharInd{RunID: run, SourceAddress: carMAC, NumSounds: 10, AAG: aag}, evseMAC, carMAC))
	data = append(data, hp(&homeplug.SlacMatchReq{RunID: run, PEVMAC: carMAC, EVSEMAC: evseMAC}, carMAC, evseMAC))
	data = append(data, hp(&homeplug.SlacMatchCnf{RunID: run, PEVMAC: carMAC, EVSEMAC: evseMAC, NID: homeplug.NID{1, 2, 3, 4, 5, 6, 7}}, evseMAC, carMAC))
	data = append(data, hp(&homeplug.SlacMatchCnf{}, evseMAC, carMAC)[:20]) // cut inside the payload
	t0 := time.Unix(1700000000, 0)
	fs := make([]capture.Frame, len(data))
	for i, d := range data {
		fs[i] = capture.Frame{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Data: d}
	}
	return fs
}

func TestSyntheticSLAC(t *testing.T) {
	tl := Read(syntheticFrames())
	var got []string
	for _, e := range tl.Events {
		line := e.T.String() + " " + e.Msg
		if e.Count > 1 {
			line += fmt.Sprintf(" x%d", e.Count)
		}
		for _, f := range e.Fields {
			line += " " + f.String()
		}
		got = append(got, line)
	}
	want := []string{
		"0s CM_SLAC_PARM.REQ RunID=5445534c41204556 RunIDText=TESLA EV SecurityType=0",
		"20ms CM_SLAC_PARM.CNF RunID=5445534c41204556 RunIDText=TESLA EV NumSounds=10 TimeOut=600 ms",
		"40ms CM_START_ATTEN_CHAR.IND x3 RunID=5445534c41204556 RunIDText=TESLA EV NumSounds=10 TimeOut=600 ms",
		"100ms CM_MNBC_SOUND.IND x10 RunID=5445534c41204556 RunIDText=TESLA EV Cnt=9",
		"300ms CM_ATTEN_CHAR.IND RunID=5445534c41204556 RunIDText=TESLA EV SourceAddress=04:65:65:00:64:c3 NumSounds=10 Groups=58 Attenuation=20.5 dB",
		"320ms CM_SLAC_MATCH.REQ RunID=5445534c41204556 RunIDText=TESLA EV PEVMAC=04:65:65:00:64:c3 EVSEMAC=dc:0e:a1:11:67:08",
		"340ms CM_SLAC_MATCH.CNF RunID=5445534c41204556 RunIDText=TESLA EV PEVMAC=04:65:65:00:64:c3 EVSEMAC=dc:0e:a1:11:67:08 NID=01020304050607",
		"360ms CM_SLAC_MATCH.CNF",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	last := tl.Events[len(tl.Events)-1]
	if !errors.Is(last.Err, ErrUndecodable) || !errors.Is(last.Err, homeplug.ErrTruncated) {
		t.Errorf("truncated frame: error %v, want ErrUndecodable and homeplug.ErrTruncated", last.Err)
	}
	if len(tl.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(tl.Sessions))
	}
	s := tl.Sessions[0]
	if s.CarMAC != "04:65:65:00:64:c3" || s.RunID != "5445534c41204556" || !s.Matched || s.NID != "01020304050607" ||
		s.End != "matched; no V2G session in the capture" || s.Start != 0 || s.Stop != 360*time.Millisecond {
		t.Errorf("summary %+v", s)
	}
}

func TestScale(t *testing.T) {
	for _, c := range []struct {
		v, exp int64
		want   float64
	}{{4128, -1, 412.8}, {28, 3, 28000}, {1820, 0, 1820}, {3881, -1, 388.1}, {-5, -2, -0.05}} {
		if got := scale(c.v, c.exp); got != c.want {
			t.Errorf("scale(%d, %d) = %v, want %v", c.v, c.exp, got, c.want)
		}
	}
}

func TestReadNothing(t *testing.T) {
	tl := Read(nil)
	if len(tl.Events) != 0 || len(tl.Sessions) != 0 {
		t.Errorf("Read(nil) = %+v", tl)
	}
}
