package homeplug_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/homeplug"
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
