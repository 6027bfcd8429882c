package v2gtp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// session is the start of a DIN session as pyPLC and a Hyundai Ioniq sent
// it: SupportedAppProtocolReq, -Res, SessionSetupReq, -Res.
var session = []string{
	"8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040",
	"80400040",
	"809a02000000000000000011d01811959401930c00",
	"809a02004080c1014181c211e0201d6968c0c0c0c0c080",
}

func sessionBytes(t testing.TB) []byte {
	var b []byte
	for _, p := range session {
		b = AppendMessage(b, TypeEXI, unhex(t, p))
	}
	return b
}

func readAll(r *Reader) ([]string, error) {
	var got []string
	for {
		h, p, err := r.Next()
		if err != nil {
			return got, err
		}
		if h.Type != TypeEXI || int(h.Length) != len(p) {
			return got, errors.New("bad header " + h.Type.String())
		}
		got = append(got, string(p))
	}
}

func TestReaderSplitJoin(t *testing.T) {
	b := sessionBytes(t)
	for name, src := range map[string]io.Reader{
		"joined":      bytes.NewReader(b),
		"one byte":    iotest.OneByteReader(bytes.NewReader(b)),
		"half":        iotest.HalfReader(bytes.NewReader(b)),
		"data+EOF":    iotest.DataErrReader(bytes.NewReader(b)),
		"empty reads": &emptyReader{r: iotest.OneByteReader(bytes.NewReader(b))},
	} {
		got, err := readAll(NewReader(src))
		if err != io.EOF {
			t.Errorf("%s: end: %v, want io.EOF", name, err)
		}
		if len(got) != len(session) {
			t.Fatalf("%s: %d messages, want %d", name, len(got), len(session))
		}
		for i := range got {
			if want := string(unhex(t, session[i])); got[i] != want {
				t.Errorf("%s: message %d: %x, want %x", name, i, got[i], want)
			}
		}
	}
}

// emptyReader returns (0, nil) before every real read, as io.Reader allows.
type emptyReader struct {
	r    io.Reader
	flip bool
}

func (e *emptyReader) Read(p []byte) (int, error) {
	if e.flip = !e.flip; e.flip {
		return 0, nil
	}
	return e.r.Read(p)
}

// liar claims more bytes than its buffer holds.
type liar struct{}

func (liar) Read(p []byte) (int, error) { return len(p) + 1, nil }

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

// hugeErr is what a 4 GiB message that is allowed but cut short gives: an
// int of 32 bits cannot hold its length.
var hugeErr = map[bool]error{true: io.ErrUnexpectedEOF, false: ErrTooLong}[strconv.IntSize == 64]

func TestReaderErrors(t *testing.T) {
	b := sessionBytes(t)
	for _, tc := range []struct {
		name string
		in   []byte
		max  uint32
		n    int // messages before the error
		err  error
	}{
		{"empty", nil, 0, 0, io.EOF},
		{"cut in header", b[:len(b)-25], 0, 3, io.ErrUnexpectedEOF},
		{"cut in payload", b[:len(b)-1], 0, 3, io.ErrUnexpectedEOF},
		{"TLS", unhex(t, "16030300c3010000bf0303"), 0, 0, ErrVersion},
		{"garbage after", append(b[:42:42], 0xFF, 0xFE, 0x80, 0x01, 0, 0, 0, 0), 0, 1, ErrVersion},
		{"too long", unhex(t, "01fe800100002001"), 0, 0, ErrTooLong},
		{"limit", b, 33, 0, ErrTooLong},
		{"at limit", b, 34, 4, io.EOF},
		{"4 GiB", unhex(t, "01fe8001ffffffff"), 0xFFFFFFFF, 0, hugeErr},
	} {
		r := NewReader(bytes.NewReader(tc.in))
		r.MaxPayload = tc.max
		got, err := readAll(r)
		if len(got) != tc.n || !errors.Is(err, tc.err) {
			t.Errorf("%s: %d messages, %v; want %d, %v", tc.name, len(got), err, tc.n, tc.err)
		}
		if _, _, again := r.Next(); again != err {
			t.Errorf("%s: error not sticky: %v then %v", tc.name, err, again)
		}
	}
	if _, _, err := NewReader(stuckReader{}).Next(); err != io.ErrNoProgress {
		t.Errorf("stuck reader: %v", err)
	}
	if _, _, err := NewReader(liar{}).Next(); !errors.Is(err, ErrBadCount) {
		t.Errorf("lying reader: %v", err)
	}
}

// TestReaderNoHugeAllocation: a header promising 4 GiB and a limit that
// allows it must not allocate more than the bytes that really arrive.
func TestReaderNoHugeAllocation(t *testing.T) {
	in := append(unhex(t, "01fe8001ffffffff"), make([]byte, 100_000)...)
	allocs := testing.AllocsPerRun(10, func() {
		r := NewReader(bytes.NewReader(in))
		r.MaxPayload = 0xFFFFFFFF
		if _, _, err := r.Next(); !errors.Is(err, hugeErr) {
			t.Fatal(err)
		}
		if cap(r.buf) > 2*len(in)+minBuffer {
			t.Fatalf("buffer of %d bytes for %d bytes of input", cap(r.buf), len(in))
		}
	})
	if allocs > 20 {
		t.Errorf("%v allocations", allocs)
	}
}

// loop is an endless stream that repeats b, returning at most n bytes a read.
type loop struct {
	b   []byte
	off int
	n   int
}

func (l *loop) Read(p []byte) (int, error) {
	p = p[:min(len(p), l.n)]
	m := 0
	for m < len(p) {
		c := copy(p[m:], l.b[l.off:])
		m += c
		l.off = (l.off + c) % len(l.b)
	}
	return m, nil
}

func TestReaderSteadyStateAllocs(t *testing.T) {
	b := sessionBytes(t)
	for _, chunk := range []int{1, 7, 1500, 64 << 10} {
		r := NewReader(&loop{b: b, n: chunk})
		for range 10 { // warm up: the buffer reaches its size
			r.Next()
		}
		if a := testing.AllocsPerRun(1000, func() {
			if _, _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("chunk %d: %v allocations per message", chunk, a)
		}
	}
}

func TestReaderLargeMessage(t *testing.T) {
	// A certificate installation message may exceed the 8 KiB default.
	p := bytes.Repeat([]byte("x"), 20000)
	b := AppendMessage(nil, TypeEXI, p)
	b = AppendMessage(b, TypeEXI, []byte("y"))
	r := NewReader(iotest.HalfReader(bytes.NewReader(b)))
	if _, _, err := r.Next(); !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "20000 > 8192") {
		t.Errorf("default limit: %v", err)
	}
	r = NewReader(iotest.HalfReader(bytes.NewReader(b)))
	r.MaxPayload = 64 << 10
	got, err := readAll(r)
	if err != io.EOF || len(got) != 2 || got[0] != string(p) || got[1] != "y" {
		t.Errorf("raised limit: %d messages, %v", len(got), err)
	}
}

func BenchmarkReader(b *testing.B) {
	stream := sessionBytes(b)
	for _, chunk := range []int{1500, 64 << 10} {
		b.Run(map[int]string{1500: "segments", 64 << 10: "joined"}[chunk], func(b *testing.B) {
			r := NewReader(&loop{b: stream, n: chunk})
			b.SetBytes(int64(len(stream)) / int64(len(session)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
