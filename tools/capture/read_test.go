package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ccslink/ccslink/internal/shared"
)

// sampleFrames is a short made-up session: an MME, SDP and a TCP message.
func sampleFrames(t testing.TB) []Frame {
	b := &builder{t: t}
	b.add(gopacket.Payload{0x01, 0x64, 0x60, 0, 0})
	b.udp(evcc, secc, []byte{0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00})
	b.tcp(evcc, secc, 1, "S", nil)
	b.tcp(evcc, secc, 2, "", exi("hello"))
	return b.frames
}

func writePcap(t testing.TB, frames []Frame, nanos bool, lt layers.LinkType) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data)}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writePcapng writes frames on an Ethernet interface and, when other is
// set, a non-Ethernet packet on a second interface between each of them.
func writePcapng(t testing.TB, frames []Frame, other bool) []byte {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if other {
			ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: 3, Length: 3, InterfaceIndex: raw}
			if err := w.WritePacket(ci, []byte{0x60, 0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: len(f.Data), Length: len(f.Data)}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sameFrames(t *testing.T, name string, got, want []Frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d frames, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("%s: frame %d differs: %v %x", name, i, got[i].Time, got[i].Data)
		}
	}
}

func TestReadFormats(t *testing.T) {
	frames := sampleFrames(t)
	frames[1].Time = frames[1].Time.Add(123 * time.Nanosecond) // only nanosecond formats keep it
	micro := append([]Frame(nil), frames...)
	micro[1].Time = micro[1].Time.Truncate(time.Microsecond)
	for _, tc := range []struct {
		name string
		data []byte
		want []Frame
		skip int
	}{
		{"pcap", writePcap(t, frames, false, layers.LinkTypeEthernet), micro, 0},
		{"pcap nanoseconds", writePcap(t, frames, true, layers.LinkTypeEthernet), frames, 0},
		{"pcapng", writePcapng(t, frames, false), frames, 0},
		{"pcapng with a raw-IP interface", writePcapng(t, frames, true), frames, len(frames)},
	} {
		c, err := Read(bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sameFrames(t, tc.name, c.Frames(), tc.want)
		if c.Skipped() != tc.skip {
			t.Errorf("%s: skipped %d, want %d", tc.name, c.Skipped(), tc.skip)
		}
		msgs, _ := V2GTP(c.Frames())
		if len(msgs) != 2 || string(msgs[1].Payload) != "hello" || len(HomePlug(c.Frames())) != 1 {
			t.Errorf("%s: %d messages", tc.name, len(msgs))
		}
	}
}

func TestReadErrors(t *testing.T) {
	frames := sampleFrames(t)
	pcap := writePcap(t, frames, false, layers.LinkTypeEthernet)
	ng := writePcapng(t, frames, false)
	for _, tc := range []struct {
		name   string
		data   []byte
		frames int    // frames still returned
		msg    string // in the error
	}{
		{"empty", nil, -1, "empty"},
		{"gzip", []byte{0x1f, 0x8b, 0x08, 0x00, 0, 0}, -1, "not a pcap or pcapng file (starts with 1f 8b 08 00)"},
		{"text", []byte("Packet #10 [2023-05-24]"), -1, "not a pcap or pcapng"},
		{"raw IP link", writePcap(t, frames, false, layers.LinkTypeRaw), -1, "link type Raw, want Ethernet"},
		{"pcap header only", pcap[:20], -1, "pcap"},
		{"pcap cut in a record", pcap[:len(pcap)-3], 3, "frame 4: unexpected EOF"},
		{"pcap cut after a record header", pcap[:len(pcap)-len(frames[3].Data)], 3, "frame 4: unexpected EOF"},
		{"pcapng cut", ng[:len(ng)-10], 3, "unexpected EOF"},
	} {
		c, err := Read(bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.msg)
		}
		if tc.frames < 0 && c != nil || tc.frames >= 0 && (c == nil || len(c.Frames()) != tc.frames) {
			t.Errorf("%s: capture %v", tc.name, c)
		}
		if tc.frames >= 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: %v is not io.ErrUnexpectedEOF", tc.name, err)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "absent.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(absent): %v", err)
	}
}

func FuzzRead(f *testing.F) {
	// Seeds: the start of a few real captures, of both formats, and whole
	// made-up ones.
	if dir, ok := shared.SharedDir(); ok {
		for _, name := range []string{
			"pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng",
			"everest/polestar2_iso2-ac.pcap",
			"dsv2gshark/ISO-2_DC_multi_EVSE_SLAC_DS5366_Josev.pcapng",
		} {
			b, err := os.ReadFile(filepath.Join(dir, "captures", name))
			if err != nil {
				f.Logf("seed %s: %v", name, err)
				continue
			}
			f.Add(b[:min(len(b), 1024)]) // small: the fuzzer minimizes whatever it finds
		}
	}
	frames := sampleFrames(f)
	f.Add(writePcap(f, frames, false, layers.LinkTypeEthernet))
	f.Add(writePcap(f, frames, true, layers.LinkTypeEthernet))
	f.Add(writePcapng(f, frames, true))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data))
		if c == nil {
			if err == nil {
				t.Fatal("no capture and no error")
			}
			return
		}
		frames := c.Frames()
		for _, f := range HomePlug(frames) {
			if len(f.Data) < 14 || f.Data[12] != 0x88 || f.Data[13] != 0xE1 {
				t.Fatalf("HomePlug frame %x", f.Data)
			}
		}
		msgs, _ := V2GTP(frames)
		for _, m := range msgs {
			if int(m.Header.Length) != len(m.Payload) || m.Frame < 0 || m.Frame >= len(frames) {
				t.Fatalf("bad message %+v", m)
			}
		}
	})
}
