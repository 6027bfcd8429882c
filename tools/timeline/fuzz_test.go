package timeline

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/tools/capture"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// splitFrames reads fuzz input as frames: a 2-byte big-endian length, then
// that many bytes, each frame a millisecond after the one before.
func splitFrames(b []byte) []capture.Frame {
	var fs []capture.Frame
	t0 := time.Unix(1700000000, 0)
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		fs = append(fs, capture.Frame{Time: t0.Add(time.Duration(len(fs)) * time.Millisecond), Data: b[:n:n]})
		b = b[n:]
	}
	return fs
}

func joinFrames(fs []capture.Frame) []byte {
	var b []byte
	for _, f := range fs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

// FuzzRead feeds the timeline builder random frames: no panic, events in
// frame order with valid sessions, and no more events than the input could
// carry messages. With the shared captures it reads TLS with the key log of
// the -20 TLS capture, seeded with that capture's TLS connection whole.
func FuzzRead(f *testing.F) {
	f.Add(joinFrames(syntheticFrames()))
	var keys *tlsread.KeyLog
	if d, ok := shared.SharedDir(); ok {
		var tcp []capture.Frame
		keys, tcp = splitKeyLog(f, framesOf(f, d+"/captures/dsv2gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng"), 55119)
		f.Add(joinFrames(tcp))
		for _, p := range []string{"/captures/pyplc/2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng", "/captures/everest/polestar2_iso2-ac.pcap",
			"/captures/dsv2gshark/ISO-20_BPT_AC_DS5366_Josev.pcapng", "/captures/dsv2gshark/ISO-20_TLS13_DC_DS5366_Josev.pcapng"} {
			if _, err := os.Stat(d + p); err != nil {
				continue
			}
			fs := framesOf(f, d+p)
			for i := 0; i < len(fs); i += 20 {
				f.Add(joinFrames(fs[i:min(i+20, len(fs))]))
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := splitFrames(b)
		tl := ReadKeys(fs, keys)
		// Each event stands for a frame or a V2GTP message (8 bytes at least).
		if limit := len(fs) + len(b)/8 + 1; len(tl.Events) > limit {
			t.Fatalf("%d events from %d frames of %d bytes", len(tl.Events), len(fs), len(b))
		}
		for i, e := range tl.Events {
			if i > 0 && e.Frame < tl.Events[i-1].Frame {
				t.Fatalf("event %d out of order", i)
			}
			if e.Session < -1 || e.Session >= len(tl.Sessions) || e.Frame < 0 || e.Frame >= len(fs) {
				t.Fatalf("event %d: session %d frame %d", i, e.Session, e.Frame)
			}
			if e.Err != nil && !errors.Is(e.Err, ErrUndecodable) && !errors.Is(e.Err, ErrEncrypted) &&
				!errors.Is(e.Err, ErrTruncated) && !errors.Is(e.Err, ErrGap) {
				t.Fatalf("event %d: untyped error %v", i, e.Err)
			}
		}
	})
}
