package v2gtp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ccslink/ccslink/internal/shared"
)

// realFrames returns up to n V2GTP frames (header included) from the shared
// test vectors, or nothing when the shared material is absent.
func realFrames(tb testing.TB, n int) [][]byte {
	dir, ok := shared.SharedDir()
	if !ok {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, "vectors", "tuxevse_iso2_v2gtp.jsonl"))
	if err != nil {
		tb.Logf("no real frames: %v", err)
		return nil
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(out) < n {
		var v struct{ Hex string }
		if json.Unmarshal(sc.Bytes(), &v) != nil || !strings.HasPrefix(v.Hex, "01fe") {
			continue
		}
		if b, err := hex.DecodeString(v.Hex); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func TestRealFrames(t *testing.T) {
	frames := realFrames(t, 1000)
	if len(frames) == 0 {
		shared.Path(t, "vectors") // skips with the shared message when absent
		t.Fatal("no 01fe frames in tuxevse_iso2_v2gtp.jsonl")
	}
	var stream []byte
	for _, f := range frames {
		h, p, rest, err := Split(f)
		if err != nil || len(rest) != 0 || h.Type != TypeEXI {
			t.Fatalf("%x: %+v, %d bytes left, %v", f, h, len(rest), err)
		}
		if !bytes.Equal(AppendMessage(nil, h.Type, p), f) {
			t.Fatalf("%x does not re-encode", f)
		}
		stream = append(stream, f...)
	}
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)))
	for i := range frames {
		_, p, err := r.Next()
		if err != nil || !bytes.Equal(p, frames[i][HeaderLen:]) {
			t.Fatalf("frame %d: %x, %v", i, p, err)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
	t.Logf("%d real frames", len(frames))
}

func FuzzParse(f *testing.F) {
	frames := realFrames(f, 8)
	for _, fr := range frames {
		f.Add(fr)
	}
	if len(frames) > 1 {
		f.Add(append(append([]byte{}, frames[0]...), frames[1]...))
	}
	f.Add([]byte{0x01, 0xfe, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00})
	f.Add([]byte{0x01, 0xfe, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x16, 0x03, 0x03, 0x00, 0xc3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := ParseHeader(b); err == nil {
			if got := AppendHeader(nil, h); !bytes.Equal(got, b[:HeaderLen]) {
				t.Fatalf("header %x re-encodes as %x", b[:HeaderLen], got)
			}
			if h.Type == TypeSDPRequest {
				ParseSDPRequest(b[HeaderLen:])
			}
			if h.Type == TypeSDPResponse {
				if s, err := ParseSDPResponse(b[HeaderLen:]); err == nil && !bytes.Equal(s.Append(nil), b[HeaderLen:]) {
					t.Fatalf("SDP response %x does not re-encode", b[HeaderLen:])
				}
			}
		}

		// Split and Reader must agree message by message, and every message
		// must re-encode to the bytes it came from.
		r := NewReader(iotest.HalfReader(bytes.NewReader(b)))
		r.MaxPayload = 1 << 12
		var out bytes.Buffer
		w := NewWriter(&out)
		rest := b
		for {
			h, p, next, serr := Split(rest)
			rh, rp, rerr := r.Next()
			if serr != nil {
				if rerr == nil {
					t.Fatalf("Reader read %+v where Split failed: %v", rh, serr)
				}
				if len(rest) == 0 && rerr != io.EOF {
					t.Fatalf("Reader at clean end: %v", rerr)
				}
				return
			}
			if errors.Is(rerr, ErrTooLong) && h.Length > r.MaxPayload {
				return
			}
			if rerr != nil || rh != h || !bytes.Equal(rp, p) {
				t.Fatalf("Split %+v %x, Reader %+v %x %v", h, p, rh, rp, rerr)
			}
			if enc := AppendMessage(nil, h.Type, p); !bytes.Equal(enc, rest[:len(enc)]) {
				t.Fatalf("message re-encodes as %x", enc)
			}
			out.Reset()
			if err := w.WriteMessage(h.Type, append(w.Buffer(), p...)); err != nil || !bytes.Equal(out.Bytes(), rest[:out.Len()]) {
				t.Fatalf("Writer wrote %x, %v", out.Bytes(), err)
			}
			rest = next
		}
	})
}
