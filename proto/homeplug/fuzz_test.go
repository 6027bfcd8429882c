package homeplug_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// FuzzDecode feeds Decode arbitrary frames, seeded with the golden frames
// and real frames of every message type in the shared captures. Decode must
// not panic; what it accepts must encode, and encoding what that decodes to
// must give the same bytes again.
func FuzzDecode(f *testing.F) {
	for _, c := range goldenCases() {
		f.Add(c.frame())
	}
	if d, err := findShared(); err != nil || d == "" {
		f.Logf("no shared captures (%v): seeding with the golden frames only", err)
	} else {
		addCaptureSeeds(f)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		f1, err := homeplug.Decode(frame)
		if err != nil {
			return
		}
		if f1.Message == nil || f1.Message.MMType() != f1.MMType {
			t.Fatalf("decoded %T for %v", f1.Message, f1.MMType)
		}
		enc1, err := homeplug.AppendFrame(nil, f1.Header, f1.Message)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", f1.MMType, err)
		}
		// The encoding reproduces the frame up to the end of the message,
		// except MVFLength, which the encoder always writes as the standard says.
		payload, _ := f1.Message.AppendPayload(nil)
		n := f1.Header.Len() + len(payload)
		want := bytes.Clone(frame[:n])
		switch f1.Message.(type) {
		case *homeplug.SlacMatchReq, *homeplug.SlacMatchCnf:
			off := f1.Header.Len() + 2
			copy(want[off:], enc1[off:off+2])
		}
		if !bytes.Equal(enc1[:n], want) {
			t.Fatalf("%v round trip\n got %x\nwant %x", f1.MMType, enc1[:n], want)
		}
		f2, err := homeplug.Decode(enc1)
		if err != nil {
			t.Fatalf("re-decode of %v: %v\n%x", f1.MMType, err, enc1)
		}
		if f2.Header != f1.Header || reflect.TypeOf(f2.Message) != reflect.TypeOf(f1.Message) {
			t.Fatalf("re-decode: %+v %T, want %+v %T", f2.Header, f2.Message, f1.Header, f1.Message)
		}
		enc2, err := homeplug.AppendFrame(nil, f2.Header, f2.Message)
		if err != nil || !bytes.Equal(enc2, enc1) {
			t.Fatalf("not stable: %v\n%x\n%x", err, enc1, enc2)
		}
	})
}

// addCaptureSeeds adds a few distinct frames per message type from the
// captures: thousands of seeds, or big ones, make the fuzzer spend its time
// minimizing instead of exploring.
func addCaptureSeeds(f *testing.F) {
	seen := map[string]bool{}
	perType := map[string]int{}
	for _, path := range captureFiles(f) {
		for _, p := range homePlugFrames(f, path) {
			typ := string(p.Data[14:min(17, len(p.Data))]) // MMV and MMTYPE
			if seen[string(p.Data)] || perType[typ] >= 3 || (perType[typ] > 0 && len(p.Data) > 300) {
				continue
			}
			seen[string(p.Data)] = true
			perType[typ]++
			f.Add(p.Data)
		}
	}
}
