package homeplug_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// TestCapturesRoundTrip decodes every HomePlug frame of every capture and
// encodes it again: the bytes must match up to the end of the message, and
// everything after it must be padding.
func TestCapturesRoundTrip(t *testing.T) {
	total := map[string]int{}
	nonZeroPad := 0
	for _, path := range captureFiles(t) {
		name := filepath.Base(path)
		frames := homePlugFrames(t, path)
		t.Run(name, func(t *testing.T) {
			for _, p := range frames {
				f, err := homeplug.Decode(p.Data)
				if err != nil {
					t.Fatalf("frame %d: %v\n%s", p.Index, err, hex.EncodeToString(p.Data))
				}
				kind := fmt.Sprintf("%T", f.Message)
				total[f.MMType.String()+" "+kind]++

				enc, err := homeplug.AppendFrame(nil, f.Header, f.Message)
				if err != nil {
					t.Fatalf("frame %d %v: encode: %v", p.Index, f.MMType, err)
				}
				payload, _ := f.Message.AppendPayload(nil)
				n := f.Header.Len() + len(payload)
				if len(enc) != max(n, homeplug.MinFrameLen) {
					t.Fatalf("frame %d %v: encoded %d bytes, want %d", p.Index, f.MMType, len(enc), max(n, homeplug.MinFrameLen))
				}
				if len(p.Data) < n || !bytes.Equal(enc[:n], p.Data[:n]) {
					t.Fatalf("frame %d %v: round trip differs\n got %x\nwant %x", p.Index, f.MMType, enc, p.Data)
				}
				if strings.Trim(string(enc[n:]), "\x00") != "" {
					t.Fatalf("frame %d %v: encoder padding is not zero: %x", p.Index, f.MMType, enc[n:])
				}
				if pad := p.Data[n:]; strings.Trim(string(pad), "\x00") != "" {
					nonZeroPad++
					t.Logf("frame %d %v: %d bytes after the message are not zero: %x", p.Index, f.MMType, len(pad), pad)
				}
				if _, raw := f.Message.(*homeplug.RawMessage); !raw && len(p.Data) > homeplug.MinFrameLen && len(p.Data) > n {
					t.Errorf("frame %d %v: %d bytes beyond the modelled message in a %d-byte frame", p.Index, f.MMType, len(p.Data)-n, len(p.Data))
				}
			}
		})
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range total {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("%6d %s", total[k], k)
	}
	t.Logf("frames with non-zero padding: %d", nonZeroPad)
}

// decodeAt decodes the frame with the given index (counting from 1) of a capture.
func decodeAt(t *testing.T, frames []packet, index int) homeplug.Frame {
	t.Helper()
	for _, p := range frames {
		if p.Index == index {
			f, err := homeplug.Decode(p.Data)
			if err != nil {
				t.Fatalf("frame %d: %v", index, err)
			}
			return f
		}
	}
	t.Fatalf("no HomePlug frame %d", index)
	return homeplug.Frame{}
}

// as asserts the message type of a decoded frame.
func as[M homeplug.Message](t *testing.T, f homeplug.Frame) M {
	t.Helper()
	m, ok := f.Message.(M)
	if !ok {
		t.Fatalf("%v from %v: got %T", f.MMType, f.Src, f.Message)
	}
	return m
}

func mac(s string) homeplug.MAC {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	m, _ := homeplug.MACFrom(hw)
	return m
}

func TestCaptureTesla(t *testing.T) {
	frames := homePlugFrames(t, captureFile(t, "everest/tesla-model3_din-dc.pcap"))
	car, charger := mac("dc:44:27:1d:cd:45"), mac("86:75:a6:8b:a3:c8")
	tesla := homeplug.RunID([]byte("TESLA EV"))

	f := decodeAt(t, frames, 7)
	req := as[*homeplug.SlacParmReq](t, f)
	if f.Src != car || f.Dst != homeplug.BroadcastMAC || f.MMV != homeplug.MMV11 || req.RunID != tesla {
		t.Errorf("CM_SLAC_PARM.REQ from %v to %v MMV %d RunID %q", f.Src, f.Dst, f.MMV, req.RunID[:])
	}
	f = decodeAt(t, frames, 8)
	cnf := as[*homeplug.SlacParmCnf](t, f)
	want := homeplug.SlacParmCnf{MSoundTarget: homeplug.BroadcastMAC, NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: car, RunID: tesla}
	if *cnf != want || f.Src != charger {
		t.Errorf("CM_SLAC_PARM.CNF from %v: %+v, want %+v", f.Src, *cnf, want)
	}
	match := as[*homeplug.SlacMatchCnf](t, decodeAt(t, frames, 35))
	if match.RunID != tesla || match.PEVMAC != car || match.EVSEMAC != charger || string(match.NMK[:]) != "E13PXP537BSNDG3S" || match.NID != match.NMK.NID() {
		t.Errorf("CM_SLAC_MATCH.CNF: %+v", *match)
	}
	key := as[*homeplug.SetKeyReq](t, decodeAt(t, frames, 1))
	if key.NewKey != match.NMK || key.NID != match.NID || key.KeyType != homeplug.KeyTypeNMK || key.PID != homeplug.PIDHLE {
		t.Errorf("CM_SET_KEY.REQ does not install the matched key: %+v", *key)
	}
}

func TestCaptureModelYRunID(t *testing.T) {
	for _, p := range homePlugFrames(t, captureFile(t, "2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng")) {
		f, err := homeplug.Decode(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		if req, ok := f.Message.(*homeplug.SlacParmReq); ok {
			if string(req.RunID[:]) != "TESLA EV" {
				t.Errorf("frame %d: RunID %q, want \"TESLA EV\"", p.Index, req.RunID[:])
			}
			return
		}
	}
	t.Fatal("no CM_SLAC_PARM.REQ")
}

// TestCaptureTaycan shows the failure the Taycan captures record: pyPLC
// answered CM_SLAC_PARM.REQ with the car's MAC where the RunID belongs.
func TestCaptureTaycan(t *testing.T) {
	frames := homePlugFrames(t, captureFile(t, "2023-05-03_TaycanLeftside_slacFail.pcapng"))
	car := mac("00:18:87:00:a1:d6")
	req := as[*homeplug.SlacParmReq](t, decodeAt(t, frames, 3))
	cnf := as[*homeplug.SlacParmCnf](t, decodeAt(t, frames, 4))
	if req.RunID != homeplug.RunID(mustHex("944dc3d0ed5abf0a")) {
		t.Errorf("car's RunID %v", req.RunID)
	}
	if cnf.RunID != homeplug.RunID(append(car[:], 0, 0)) || cnf.RunID == req.RunID {
		t.Errorf("charger's echo %v: want the car's MAC and two zeros, not %v", cnf.RunID, req.RunID)
	}
	// pyPLC's key: a fixed NID and an NMK with only two random bytes.
	key := as[*homeplug.SetKeyReq](t, decodeAt(t, frames, 1))
	if key.NID != homeplug.NID(mustHex("01020304050607")) || !bytes.Equal(key.NewKey[4:], bytes.Repeat([]byte{0x77}, 12)) {
		t.Errorf("pyPLC key %x NID %v", key.NewKey, key.NID)
	}
}

// TestCaptureAlpitronic checks real attenuation values an Alpitronic HYC150 sent to a Hyundai Ioniq.
func TestCaptureAlpitronic(t *testing.T) {
	frames := homePlugFrames(t, captureFile(t, "spi_ioniq_alpiHYC150_makerspace_landsberg_left_small_2024-04-03_ok.csv.pcap"))
	car, charger := mac("e0:0e:e1:ff:d3:e2"), mac("52:ad:92:07:32:8b")
	f := decodeAt(t, frames, 40)
	ind := as[*homeplug.AttenCharInd](t, f)
	aag := mustHex("040407101013160e0b0b080b0b0f12110f111011100e10101212121313171818191b1d19171617151519181715161516171b15151716191c1d26")
	// The Ioniq uses its own MAC as RunID.
	runID := homeplug.RunID(append(car[:], 0, 0))
	if f.Src != charger || f.Dst != car || ind.SourceAddress != car || ind.RunID != runID || ind.NumSounds != 10 || !bytes.Equal(ind.AAG, aag) {
		t.Errorf("CM_ATTEN_CHAR.IND from %v: %+v", f.Src, *ind)
	}
	sound := as[*homeplug.MnbcSoundInd](t, decodeAt(t, frames, 12))
	if sound.Cnt != 9 || sound.RunID != runID || sound.Rnd != [16]byte(bytes.Repeat([]byte{0xff}, 16)) {
		t.Errorf("first CM_MNBC_SOUND.IND: %+v", *sound)
	}
	ver := as[*homeplug.SwVerCnf](t, decodeAt(t, frames, 2))
	if ver.Version != "MAC-QCA7005-1.1.0.730-04-20140815-CS" || ver.DeviceID != 0x22 || ver.MStatus != 0 {
		t.Errorf("VS_SW_VER.CNF: %q device %#x status %d", ver.Version, ver.DeviceID, ver.MStatus)
	}
	match := as[*homeplug.SlacMatchCnf](t, decodeAt(t, frames, 43))
	if match.NID != match.NMK.NID() {
		t.Errorf("Alpitronic NID %v is not derived from its NMK (%v)", match.NID, match.NMK.NID())
	}
}

// TestCaptureAttenProfile compares a QCA7000 modem's profile with the zero-group
// profiles the TP-Link (QCA7420) modem of pyPLC sends.
func TestCaptureAttenProfile(t *testing.T) {
	kia := homePlugFrames(t, captureFile(t, "everest/kia-ev6_din-dc.pcap"))
	p := as[*homeplug.AttenProfileInd](t, decodeAt(t, kia, 11))
	if p.PEVMAC != mac("04:e7:7e:00:f3:98") || len(p.AAG) != homeplug.NumAttenGroups || p.AAG[0] != 0x1c || p.AAG[57] != 0x39 {
		t.Errorf("Kia profile: %v %d groups %x", p.PEVMAC, len(p.AAG), p.AAG)
	}
	ioniq := homePlugFrames(t, captureFile(t, "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"))
	f := decodeAt(t, ioniq, 49)
	p = as[*homeplug.AttenProfileInd](t, f)
	if f.Src != mac("98:48:27:5a:3c:e4") || p.PEVMAC != mac("04:65:65:00:64:c3") || len(p.AAG) != 0 {
		t.Errorf("pyPLC profile from %v: %v, %d groups", f.Src, p.PEVMAC, len(p.AAG))
	}
}

// TestCaptureNIDs checks the NID of every key a real charger handed out or
// installed; the simulators and pyPLC do not derive theirs.
func TestCaptureNIDs(t *testing.T) {
	checked := 0
	for _, path := range captureFiles(t) {
		name := filepath.Base(path)
		fromCharger := strings.Contains(path, "everest") || strings.Contains(name, "alpi") || strings.Contains(name, "ABB") ||
			strings.Contains(name, "SuperCharger") || strings.Contains(name, "compleo")
		for _, p := range homePlugFrames(t, path) {
			f, err := homeplug.Decode(p.Data)
			if err != nil {
				t.Fatal(err)
			}
			var nid homeplug.NID
			var nmk homeplug.NMK
			switch m := f.Message.(type) {
			case *homeplug.SlacMatchCnf:
				nid, nmk = m.NID, m.NMK
			case *homeplug.SetKeyReq:
				nid, nmk = m.NID, m.NewKey
			default:
				continue
			}
			switch {
			case nmk.NID() == nid:
				checked++
			case fromCharger && f.MMType == homeplug.CMSlacMatchCnf:
				t.Errorf("%s frame %d: NID %v, derived %v", name, p.Index, nid, nmk.NID())
			default:
				t.Logf("%s frame %d %v: NID %v not derived from NMK %x", name, p.Index, f.MMType, nid, nmk)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d derived NIDs found", checked)
	}
	t.Logf("%d NIDs derived from their NMK", checked)
}
