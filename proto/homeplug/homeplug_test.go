package homeplug_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/homeplug"
)

var (
	evMAC   = homeplug.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	evseMAC = homeplug.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	runID   = homeplug.RunID{'T', 'E', 'S', 'L', 'A', ' ', 'E', 'V'}
)

// seq returns n bytes counting up from start.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// field is a value at an absolute frame offset, as slac.md lists them.
type field struct {
	off int
	hex string
}

// goldenCase is one message with the frame slac.md's layout table gives for it.
type goldenCase struct {
	name   string
	h      homeplug.Header
	m      homeplug.Message
	size   int     // bytes up to the end of the message, before padding
	min    int     // shortest frame that still decodes
	fields []field // absolute offsets
}

func (c goldenCase) frame() []byte {
	b := make([]byte, max(c.size, homeplug.MinFrameLen))
	copy(b[0:], c.h.Dst[:])
	copy(b[6:], c.h.Src[:])
	b[12], b[13] = 0x88, 0xe1
	for _, f := range c.fields {
		copy(b[f.off:], mustHex(f.hex))
	}
	return b
}

func goldenCases() []goldenCase {
	aag := seq(1, homeplug.NumAttenGroups)
	aagHex := hex.EncodeToString(aag)
	nmk := homeplug.NMK(seq(0x40, 16))
	nid := homeplug.NID(seq(0x70, 7))
	cm := func(t string) []field {
		return []field{{14, "01"}, {15, t}, {17, "0000"}}
	}
	vs := func(t string) []field {
		return []field{{14, "00"}, {15, t}, {17, "00b052"}}
	}
	with := func(a []field, b ...field) []field { return append(a, b...) }
	pevID := [17]byte(seq(0xa0, 17))
	evseID := [17]byte(seq(0xc0, 17))
	matchVars := []field{
		{19, "00"}, {20, "00"},
		{23, hex.EncodeToString(pevID[:])}, {40, "020000000001"},
		{46, hex.EncodeToString(evseID[:])}, {63, "020000000002"},
		{69, "5445534c41204556"}, {77, "0102030405060708"},
	}
	return []goldenCase{
		{
			name: "CM_SET_KEY.REQ", h: homeplug.NewHeader(homeplug.LocalModemMAC, evseMAC, homeplug.CMSetKeyReq),
			m:    &homeplug.SetKeyReq{KeyType: 1, MyNonce: 0xaabbccdd, YourNonce: 0x11223344, PID: 4, PRN: 0x0102, PMN: 5, CCoCapability: 6, NID: nid, NewEKS: 1, NewKey: nmk},
			size: 57, min: 57,
			fields: with(cm("0860"), field{19, "01"}, field{20, "ddccbbaa"}, field{24, "44332211"}, field{28, "04"},
				field{29, "0201"}, field{31, "05"}, field{32, "06"}, field{33, hex.EncodeToString(nid[:])}, field{40, "01"}, field{41, hex.EncodeToString(nmk[:])}),
		},
		{
			name: "CM_SET_KEY.CNF", h: homeplug.NewHeader(evseMAC, homeplug.LocalModemMAC, homeplug.CMSetKeyCnf),
			m:    &homeplug.SetKeyCnf{Result: 1, MyNonce: 0x01020304, YourNonce: 0x05060708, PID: 4, PRN: 0x0a0b, PMN: 0xff, CCoCapability: 2},
			size: 33, min: 33,
			fields: with(cm("0960"), field{19, "01"}, field{20, "04030201"}, field{24, "08070605"}, field{28, "04"},
				field{29, "0b0a"}, field{31, "ff"}, field{32, "02"}),
		},
		{
			name: "CM_SLAC_PARM.REQ", h: homeplug.NewHeader(homeplug.BroadcastMAC, evMAC, homeplug.CMSlacParmReq),
			m:    &homeplug.SlacParmReq{ApplicationType: 0, SecurityType: 0, RunID: runID},
			size: 29, min: 29,
			fields: with(cm("6460"), field{19, "00"}, field{20, "00"}, field{21, "5445534c41204556"}),
		},
		{
			name: "CM_SLAC_PARM.CNF", h: homeplug.NewHeader(evMAC, evseMAC, homeplug.CMSlacParmCnf),
			m:    &homeplug.SlacParmCnf{MSoundTarget: homeplug.BroadcastMAC, NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: evMAC, RunID: runID},
			size: 44, min: 44,
			fields: with(cm("6560"), field{19, "ffffffffffff"}, field{25, "0a"}, field{26, "06"}, field{27, "01"},
				field{28, "020000000001"}, field{34, "00"}, field{35, "00"}, field{36, "5445534c41204556"}),
		},
		{
			name: "CM_START_ATTEN_CHAR.IND", h: homeplug.NewHeader(homeplug.BroadcastMAC, evMAC, homeplug.CMStartAttenCharInd),
			m:    &homeplug.StartAttenCharInd{NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: evMAC, RunID: runID},
			size: 38, min: 38,
			fields: with(cm("6a60"), field{21, "0a"}, field{22, "06"}, field{23, "01"},
				field{24, "020000000001"}, field{30, "5445534c41204556"}),
		},
		{
			name: "CM_MNBC_SOUND.IND", h: homeplug.NewHeader(homeplug.BroadcastMAC, evMAC, homeplug.CMMnbcSoundInd),
			m:    &homeplug.MnbcSoundInd{SenderID: [17]byte(seq(0x30, 17)), Cnt: 9, RunID: runID, Reserved: [8]byte(seq(0x90, 8)), Rnd: [16]byte(seq(0xe0, 16))},
			size: 71, min: 71,
			fields: with(cm("7660"), field{21, hex.EncodeToString(seq(0x30, 17))}, field{38, "09"},
				field{39, "5445534c41204556"}, field{47, hex.EncodeToString(seq(0x90, 8))}, field{55, hex.EncodeToString(seq(0xe0, 16))}),
		},
		{
			name: "CM_ATTEN_PROFILE.IND", h: homeplug.NewHeader(evseMAC, homeplug.LocalModemMAC, homeplug.CMAttenProfileInd),
			m:    &homeplug.AttenProfileInd{PEVMAC: evMAC, AAG: aag},
			size: 85, min: 85,
			fields: with(cm("8660"), field{19, "020000000001"}, field{25, "3a"}, field{26, "00"}, field{27, aagHex}),
		},
		{
			name: "CM_ATTEN_CHAR.IND", h: homeplug.NewHeader(evMAC, evseMAC, homeplug.CMAttenCharInd),
			m:    &homeplug.AttenCharInd{SourceAddress: evMAC, RunID: runID, NumSounds: 10, AAG: aag},
			size: 129, min: 129,
			fields: with(cm("6e60"), field{21, "020000000001"}, field{27, "5445534c41204556"}, field{69, "0a"}, field{70, "3a"}, field{71, aagHex}),
		},
		{
			name: "CM_ATTEN_CHAR.RSP", h: homeplug.NewHeader(evseMAC, evMAC, homeplug.CMAttenCharRsp),
			m:    &homeplug.AttenCharRsp{SourceAddress: evMAC, RunID: runID, SourceID: [17]byte(seq(1, 17)), RespID: [17]byte(seq(0x81, 17)), Result: 0},
			size: 70, min: 70,
			fields: with(cm("6f60"), field{21, "020000000001"}, field{27, "5445534c41204556"},
				field{35, hex.EncodeToString(seq(1, 17))}, field{52, hex.EncodeToString(seq(0x81, 17))}, field{69, "00"}),
		},
		{
			name: "CM_VALIDATE.REQ", h: homeplug.NewHeader(evseMAC, evMAC, homeplug.CMValidateReq),
			m:    &homeplug.ValidateReq{SignalType: 0, Timer: 1, Result: homeplug.ValidateReady},
			size: 22, min: 22,
			fields: with(cm("7860"), field{19, "000101"}),
		},
		{
			name: "CM_VALIDATE.CNF", h: homeplug.NewHeader(evMAC, evseMAC, homeplug.CMValidateCnf),
			m:    &homeplug.ValidateCnf{SignalType: 0, ToggleNum: 0, Result: homeplug.ValidateNotRequired},
			size: 22, min: 22,
			fields: with(cm("7960"), field{19, "000004"}),
		},
		{
			name: "CM_SLAC_MATCH.REQ", h: homeplug.NewHeader(evseMAC, evMAC, homeplug.CMSlacMatchReq),
			m:    &homeplug.SlacMatchReq{PEVID: pevID, PEVMAC: evMAC, EVSEID: evseID, EVSEMAC: evseMAC, RunID: runID, Reserved: [8]byte(seq(1, 8))},
			size: 85, min: 85,
			fields: with(append(cm("7c60"), matchVars...), field{21, "3e00"}),
		},
		{
			name: "CM_SLAC_MATCH.CNF", h: homeplug.NewHeader(evMAC, evseMAC, homeplug.CMSlacMatchCnf),
			m:    &homeplug.SlacMatchCnf{PEVID: pevID, PEVMAC: evMAC, EVSEID: evseID, EVSEMAC: evseMAC, RunID: runID, Reserved: [8]byte(seq(1, 8)), NID: nid, NMK: nmk},
			size: 109, min: 109,
			fields: with(append(cm("7d60"), matchVars...), field{21, "5600"}, field{85, hex.EncodeToString(nid[:])}, field{92, "00"}, field{93, hex.EncodeToString(nmk[:])}),
		},
		{
			name: "VS_SW_VER.REQ", h: homeplug.NewHeader(homeplug.LocalModemMAC, evseMAC, homeplug.VSSwVerReq),
			m: &homeplug.SwVerReq{}, size: 20, min: 20,
			fields: vs("00a0"),
		},
		{
			name: "VS_SW_VER.CNF", h: homeplug.NewHeader(evseMAC, homeplug.LocalModemMAC, homeplug.VSSwVerCnf),
			// Extra runs to the end of the frame: padding cannot be told from it.
			m:    &homeplug.SwVerCnf{MStatus: 0, DeviceID: 0x22, Version: "MAC-QCA7000", Extra: append([]byte{0xff, 0xff, 1}, make([]byte, 22)...)},
			size: 60, min: 35,
			fields: with(vs("01a0"), field{20, "00"}, field{21, "22"}, field{22, "0c"}, field{23, hex.EncodeToString([]byte("MAC-QCA7000\x00"))}, field{35, "ffff01"}),
		},
		{
			name: "VS_PL_LNK_STATUS.REQ", h: homeplug.NewHeader(homeplug.LocalModemMAC, evseMAC, homeplug.VSPlLnkStatusReq),
			m: &homeplug.PlLnkStatusReq{}, size: 20, min: 20,
			fields: vs("b8a0"),
		},
		{
			name: "VS_PL_LNK_STATUS.CNF", h: homeplug.NewHeader(evseMAC, homeplug.LocalModemMAC, homeplug.VSPlLnkStatusCnf),
			m: &homeplug.PlLnkStatusCnf{MStatus: 0, LinkStatus: homeplug.LinkUp}, size: 22, min: 22,
			fields: with(vs("b9a0"), field{20, "0001"}),
		},
		{
			name: "VS_RS_DEV.REQ", h: homeplug.NewHeader(homeplug.LocalModemMAC, evseMAC, homeplug.VSRsDevReq),
			m: &homeplug.RsDevReq{}, size: 20, min: 20,
			fields: vs("1ca0"),
		},
		{
			name: "VS_RS_DEV.CNF", h: homeplug.NewHeader(evseMAC, homeplug.LocalModemMAC, homeplug.VSRsDevCnf),
			m: &homeplug.RsDevCnf{MStatus: 1}, size: 21, min: 21,
			fields: with(vs("1da0"), field{20, "01"}),
		},
		{
			name: "raw CM_GET_KEY.REQ", h: homeplug.NewHeader(homeplug.BroadcastMAC, evMAC, 0x600C),
			m: &homeplug.RawMessage{Type: 0x600C, Payload: seq(1, 41)}, size: 60, min: 19,
			fields: with(cm("0c60"), field{19, hex.EncodeToString(seq(1, 41))}),
		},
	}
}

// TestGolden checks every message against the byte offsets of slac.md, both ways.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			want := c.frame()
			got, err := homeplug.AppendFrame(nil, c.h, c.m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode\n got %x\nwant %x", got, want)
			}
			f, err := homeplug.Decode(want)
			if err != nil {
				t.Fatal(err)
			}
			if f.Header != c.h {
				t.Errorf("header %+v, want %+v", f.Header, c.h)
			}
			if raw, ok := c.m.(*homeplug.RawMessage); ok {
				// A raw payload keeps the padding too.
				raw.Payload = want[19:]
			}
			if !reflect.DeepEqual(f.Message, c.m) {
				t.Errorf("decode\n got %+v\nwant %+v", f.Message, c.m)
			}
			if f.Message.MMType() != c.h.MMType {
				t.Errorf("MMType %v, want %v", f.Message.MMType(), c.h.MMType)
			}
		})
	}
}

// TestTruncated cuts every golden frame at every length: shorter than the
// layout must fail with ErrTruncated, never panic; long enough must decode.
func TestTruncated(t *testing.T) {
	for _, c := range goldenCases() {
		frame := c.frame()[:c.size]
		for n := range len(frame) {
			_, err := homeplug.Decode(frame[:n])
			switch {
			case n < c.min && err == nil:
				t.Errorf("%s cut to %d bytes: no error", c.name, n)
			case n < c.min && !errors.Is(err, homeplug.ErrTruncated):
				t.Errorf("%s cut to %d bytes: %v, want ErrTruncated", c.name, n, err)
			case n >= c.min && err != nil:
				t.Errorf("%s cut to %d bytes: %v", c.name, n, err)
			}
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := goldenCases()[2].frame() // CM_SLAC_PARM.REQ
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "too short for Ethernet header"},
		{"ipv6", append(append([]byte(nil), good[:12]...), 0x86, 0xdd, 0x60), "not a HomePlug frame: ethertype 0x86dd"},
		{"mmv", append(append([]byte(nil), good[:14]...), 0x03, 0x64, 0x60, 0, 0), "unsupported MMV 0x03"},
		{"too long", append(append([]byte(nil), good...), make([]byte, 1500)...), "frame too long"},
		{"vendor without OUI", append(append([]byte(nil), good[:14]...), 0x00, 0x00, 0xa0, 0x00, 0xb0), "VS_SW_VER.REQ header"},
		{"atten groups beyond frame", func() []byte {
			b := goldenCases()[6].frame()[:85]
			b[25] = 59
			return b
		}(), "CM_ATTEN_PROFILE.IND payload too short: 66 bytes, need 67"},
		{"version beyond frame", func() []byte {
			b := goldenCases()[14].frame()
			b[22] = 200
			return b
		}(), "VS_SW_VER.CNF payload too short"},
	}
	for _, tt := range tests {
		_, err := homeplug.Decode(tt.frame)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := homeplug.Decode(tests[1].frame); !errors.Is(err, homeplug.ErrNotHomePlug) {
		t.Errorf("ipv6 frame: %v is not ErrNotHomePlug", err)
	}
}

// TestRawCases covers the frames Decode keeps raw although it knows the type.
func TestRawCases(t *testing.T) {
	// A fragment of CM_SLAC_PARM.REQ: only its first part is here.
	frag := goldenCases()[2].frame()
	frag[17] = 0x10
	f, err := homeplug.Decode(frag)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Message.(*homeplug.RawMessage); !ok || f.FMI != 0x10 {
		t.Errorf("fragment decoded to %T with FMI %#x, want *RawMessage", f.Message, f.FMI)
	}
	// 0xA000 from another vendor (Lumissil) is not VS_SW_VER.
	other := goldenCases()[13].frame()
	copy(other[17:], []byte{0x00, 0x16, 0xe8})
	f, err = homeplug.Decode(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Message.(*homeplug.RawMessage); !ok || f.OUI != (homeplug.OUI{0x00, 0x16, 0xe8}) {
		t.Errorf("Lumissil 0xA000 decoded to %T, OUI %v; want *RawMessage", f.Message, f.OUI)
	}
	enc, err := f.AppendBinary(nil)
	if err != nil || !bytes.Equal(enc, other) {
		t.Errorf("Lumissil 0xA000 round trip: %v\n got %x\nwant %x", err, enc, other)
	}
}

func TestAppendFrameErrors(t *testing.T) {
	h := homeplug.NewHeader(evMAC, evseMAC, homeplug.CMAttenCharInd)
	if _, err := homeplug.AppendFrame(nil, h, &homeplug.AttenCharInd{AAG: make([]byte, 256)}); err == nil {
		t.Error("256 attenuation groups: no error")
	}
	if _, err := homeplug.AppendFrame(nil, h, &homeplug.AttenProfileInd{AAG: make([]byte, 256)}); err == nil {
		t.Error("256 profile groups: no error")
	}
	if _, err := homeplug.AppendFrame(nil, h, &homeplug.SwVerCnf{Version: strings.Repeat("x", 256)}); err == nil {
		t.Error("256-byte version: no error")
	}
	if _, err := homeplug.AppendFrame(nil, h, &homeplug.RawMessage{Type: 0x6000, Payload: make([]byte, 1500)}); err == nil {
		t.Error("oversized frame: no error")
	}
	if _, err := homeplug.AppendFrame(nil, h, nil); err == nil {
		t.Error("nil message: no error")
	}
	h.MMV = 3
	b := []byte("keep")
	b, err := homeplug.AppendFrame(b, h, &homeplug.SlacParmReq{})
	if err == nil || string(b) != "keep" {
		t.Errorf("MMV 3: %v, buffer %q; want an error and the buffer unchanged", err, b)
	}
}

// TestQualcommOUI checks that Qualcomm messages get their OUI whatever the header says.
func TestQualcommOUI(t *testing.T) {
	h := homeplug.Header{Dst: homeplug.LocalModemMAC, Src: evseMAC}
	b, err := homeplug.AppendFrame(nil, h, &homeplug.PlLnkStatusReq{})
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex("00 b8a0 00b052"); !bytes.Equal(b[14:20], want) {
		t.Errorf("header %x, want %x", b[14:20], want)
	}
}

func TestNID(t *testing.T) {
	// The test vector of slac.md.
	nmk := homeplug.NMK(mustHex("3452235445AEF2D455FEFF31A3B303AD"))
	if got, want := homeplug.DeriveNID(nmk, homeplug.SimpleConnect), homeplug.NID(mustHex("B1C913B5AA0702")); got != want {
		t.Errorf("DeriveNID = %v, want %v", got, want)
	}
	if got := nmk.NID(); got.String() != "b1c913b5aa0702" {
		t.Errorf("NMK.NID = %v", got)
	}
	// The level sits in bits 4-5 of the last byte, masked to two bits.
	if got := homeplug.DeriveNID(nmk, homeplug.SecureLevel); got[6] != 0x12 {
		t.Errorf("secure level: last byte %#x, want 0x12", got[6])
	}
	if got := homeplug.DeriveNID(nmk, 0xff); got[6] != 0x32 {
		t.Errorf("level 0xff: last byte %#x, want 0x32", got[6])
	}
}

func TestNewNMK(t *testing.T) {
	seen := map[homeplug.NMK]bool{}
	for range 64 {
		k := homeplug.NewNMK()
		if seen[k] || k == (homeplug.NMK{}) {
			t.Fatalf("NewNMK repeated or returned zeros: %x", k)
		}
		seen[k] = true
	}
	req := homeplug.NewSetKeyReq(homeplug.NMK(seq(1, 16)))
	if req.NID != homeplug.NMK(seq(1, 16)).NID() || req.KeyType != homeplug.KeyTypeNMK || req.PID != homeplug.PIDHLE || req.NewEKS != homeplug.NewEKSNMK {
		t.Errorf("NewSetKeyReq = %+v", req)
	}
}

func TestMMType(t *testing.T) {
	tests := []struct {
		t    homeplug.MMType
		want string
	}{
		{homeplug.CMSlacParmReq, "CM_SLAC_PARM.REQ"},
		{homeplug.CMAttenCharRsp, "CM_ATTEN_CHAR.RSP"},
		{homeplug.CMAttenProfileInd, "CM_ATTEN_PROFILE.IND"},
		{homeplug.VSPlLnkStatusCnf, "VS_PL_LNK_STATUS.CNF"},
		{0xA14E, "0xA14E"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%#04x.String() = %q, want %q", uint16(tt.t), got, tt.want)
		}
	}
	if homeplug.CMSlacMatchCnf.Base() != 0x607C || homeplug.CMSlacMatchCnf.Variant() != homeplug.Cnf {
		t.Error("Base/Variant of CM_SLAC_MATCH.CNF")
	}
	if !homeplug.MMType(0xA14E).IsVendor() || homeplug.MMType(0x8002).IsVendor() || homeplug.CMSetKeyReq.IsVendor() {
		t.Error("IsVendor")
	}
}

func TestMAC(t *testing.T) {
	hw, _ := net.ParseMAC("dc:44:27:1d:cd:45")
	m, err := homeplug.MACFrom(hw)
	if err != nil || m.String() != "dc:44:27:1d:cd:45" || !bytes.Equal(m.HardwareAddr(), hw) {
		t.Errorf("MACFrom(%v) = %v, %v", hw, m, err)
	}
	if _, err := homeplug.MACFrom(hw[:5]); err == nil {
		t.Error("MACFrom of 5 bytes: no error")
	}
	if !homeplug.BroadcastMAC.IsGroup() || evMAC.IsGroup() {
		t.Error("IsGroup")
	}
	if runID.String() != "5445534c41204556" || homeplug.QualcommOUI.String() != "00:b0:52" {
		t.Error("RunID or OUI String")
	}
}

// TestZeroAllocs checks the hot paths: encoding into a buffer with room and
// decoding into a reused message do not allocate.
func TestZeroAllocs(t *testing.T) {
	for _, c := range goldenCases() {
		buf := make([]byte, 0, 256)
		if n := testing.AllocsPerRun(100, func() { _, _ = homeplug.AppendFrame(buf, c.h, c.m) }); n != 0 {
			t.Errorf("AppendFrame %s: %v allocs", c.name, n)
		}
	}
	frame := goldenCases()[7].frame() // CM_ATTEN_CHAR.IND
	var m homeplug.AttenCharInd
	n := testing.AllocsPerRun(100, func() {
		_, p, err := homeplug.DecodeHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.DecodePayload(p); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("DecodeHeader+DecodePayload: %v allocs", n)
	}
}
