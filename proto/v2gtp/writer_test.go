package v2gtp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// writes records every Write call separately.
type writes struct{ calls [][]byte }

func (w *writes) Write(p []byte) (int, error) {
	w.calls = append(w.calls, bytes.Clone(p))
	return len(p), nil
}

func TestWriter(t *testing.T) {
	var out writes
	w := NewWriter(&out)
	for _, p := range session {
		buf := append(w.Buffer(), unhex(t, p)...)
		if err := w.WriteMessage(TypeEXI, buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteMessage(TypeSDPRequest, append(w.Buffer(), SecurityNone, TransportTCP)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessage(TypeISO20DC, w.Buffer()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"01fe800100000022" + session[0],
		"01fe800100000004" + session[1],
		"01fe800100000015" + session[2],
		"01fe800100000017" + session[3],
		"01fe9000000000021000",
		"01fe800400000000",
	}
	if len(out.calls) != len(want) {
		t.Fatalf("%d writes, want %d (one per message)", len(out.calls), len(want))
	}
	for i, c := range out.calls {
		if !bytes.Equal(c, unhex(t, want[i])) {
			t.Errorf("write %d: %x, want %s", i, c, want[i])
		}
	}
}

// TestWriterKeepsGrownBuffer: a payload longer than the buffer makes append
// reallocate; the writer keeps the larger array for the next message.
func TestWriterKeepsGrownBuffer(t *testing.T) {
	w := NewWriter(io.Discard)
	big := bytes.Repeat([]byte{0xAB}, 3*minBuffer)
	buf := append(w.Buffer(), big...)
	if err := w.WriteMessage(TypeEXI, buf); err != nil {
		t.Fatal(err)
	}
	next := w.Buffer()
	if len(next) != HeaderLen || cap(next) != cap(buf) || &next[0] != &buf[0] {
		t.Errorf("next buffer len %d cap %d, want %d, %d on the grown array", len(next), cap(next), HeaderLen, cap(buf))
	}
}

type failWriter struct {
	n   int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) { return min(f.n, len(p)), f.err }

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.WriteMessage(TypeEXI, []byte{1, 2, 3}); !errors.Is(err, ErrNoHeaderRoom) || !strings.Contains(err.Error(), "got 3 bytes") {
		t.Errorf("short buffer: %v", err)
	}
	if err := w.WriteMessage(TypeEXI, append(w.Buffer(), 0x80)); err != nil {
		t.Errorf("a caller error is not sticky: %v", err)
	}

	broken := errors.New("broken pipe")
	for _, tc := range []struct {
		name string
		fw   *failWriter
		want error
		msg  string
	}{
		{"error", &failWriter{n: 3, err: broken}, broken, "v2gtp: message not written (EXI, 12 bytes, 3 sent; the connection is lost): broken pipe"},
		{"short", &failWriter{n: 5}, io.ErrShortWrite, "v2gtp: message not written (EXI, 12 bytes, 5 sent; the connection is lost): short write"},
	} {
		w := NewWriter(tc.fw)
		err := w.WriteMessage(TypeEXI, append(w.Buffer(), unhex(t, session[1])...))
		if !errors.Is(err, ErrWrite) || !errors.Is(err, tc.want) || err.Error() != tc.msg {
			t.Errorf("%s: %v", tc.name, err)
		}
		tc.fw.n, tc.fw.err = 100, nil
		if again := w.WriteMessage(TypeEXI, append(w.Buffer(), 0x80)); again != err {
			t.Errorf("%s: error not sticky: %v then %v", tc.name, err, again)
		}
	}
}

// TestWriterReader: what Writer writes, Reader reads back.
func TestWriterReader(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	for i, p := range session {
		if err := w.WriteMessage(TypeISO20CommonMessages+PayloadType(i), append(w.Buffer(), unhex(t, p)...)); err != nil {
			t.Fatal(err)
		}
	}
	r := NewReader(&stream)
	for i, p := range session {
		h, got, err := r.Next()
		if err != nil || h.Type != TypeISO20CommonMessages+PayloadType(i) || !bytes.Equal(got, unhex(t, p)) {
			t.Fatalf("message %d: %+v %x %v", i, h, got, err)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

func TestWriterSteadyStateAllocs(t *testing.T) {
	w := NewWriter(io.Discard)
	payloads := make([][]byte, len(session))
	for i, p := range session {
		payloads[i] = unhex(t, p)
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		buf := append(w.Buffer(), payloads[i%len(payloads)]...)
		i++
		if err := w.WriteMessage(TypeEXI, buf); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%v allocations per message", a)
	}
}

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(io.Discard)
	p := unhex(b, session[3])
	b.SetBytes(int64(HeaderLen + len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(TypeEXI, append(w.Buffer(), p...)); err != nil {
			b.Fatal(err)
		}
	}
}
