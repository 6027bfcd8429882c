package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/tools/capture"
)

// scriptConn plays its frames to the reader, then fails as a closed socket.
type scriptConn struct {
	frames  [][]byte
	written [][]byte
}

func (c *scriptConn) ReadFrame(_ context.Context, b []byte) (int, error) {
	if len(c.frames) == 0 {
		return 0, net.ErrClosed
	}
	f := c.frames[0]
	c.frames = c.frames[1:]
	return copy(b, f), nil
}

func (c *scriptConn) WriteFrame(_ context.Context, f []byte) error {
	c.written = append(c.written, append([]byte(nil), f...))
	return nil
}

func (c *scriptConn) HardwareAddr() net.HardwareAddr { return hostMAC }
func (c *scriptConn) Close() error                   { return nil }

// capturedAnswers returns the modems' VS_SW_VER.CNF and VS_PL_LNK_STATUS.CNF
// frames of the shared captures, when they are there.
func capturedAnswers(t testing.TB) [][]byte {
	dir, ok := shared.SharedDir()
	if !ok {
		return nil
	}
	var out [][]byte
	filepath.WalkDir(filepath.Join(dir, "captures"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			return nil
		}
		c, err := capture.Open(path)
		if err != nil {
			return nil
		}
		for _, f := range capture.HomePlug(c.Frames()) {
			h, _, err := homeplug.DecodeHeader(f.Data)
			if err == nil && (h.MMType == homeplug.VSSwVerCnf || h.MMType == homeplug.VSPlLnkStatusCnf) {
				out = append(out, f.Data)
			}
		}
		return nil
	})
	return out
}

// TestCapturedAnswers asks with the real modems' answers from the captures.
func TestCapturedAnswers(t *testing.T) {
	frames := capturedAnswers(t)
	if len(frames) == 0 {
		shared.Path(t) // skips when the material is absent
		t.Fatal("no VS_SW_VER.CNF in the captures")
	}
	versions := map[string]bool{}
	for _, f := range frames {
		h, _, _ := homeplug.DecodeHeader(f)
		if h.MMType != homeplug.VSSwVerCnf {
			continue
		}
		f = append([]byte(nil), f...)
		copy(f, hostMAC)
		q := querier{conn: &scriptConn{frames: [][]byte{f}}, host: homeplug.MAC(hostMAC), timeout: time.Second}
		var ver homeplug.SwVerCnf
		if err := q.ask(context.Background(), &homeplug.SwVerReq{}, &ver); err != nil {
			t.Fatalf("%x: %v", f, err)
		}
		versions[ver.Version] = true
	}
	if !versions["MAC-QCA7005-1.1.0.730-04-20140815-CS"] {
		t.Errorf("versions %v: want the Alpitronic's QCA7005", versions)
	}
}

// FuzzModemAnswer feeds the querier any frame as the modem's answer: it
// decodes it or says why not, and never waits past the end of the input.
func FuzzModemAnswer(f *testing.F) {
	for _, fr := range capturedAnswers(f) {
		f.Add(fr)
	}
	good, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.MAC(hostMAC), modemMAC, homeplug.VSSwVerCnf),
		&homeplug.SwVerCnf{Version: testFirmware})
	f.Add(good)
	f.Add(good[:25])
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) >= 6 {
			frame = append([]byte(nil), frame...)
			copy(frame, hostMAC) // addressed to the host, or every input is someone else's
		}
		c := &scriptConn{frames: [][]byte{frame}}
		q := querier{conn: c, host: homeplug.MAC(hostMAC), timeout: time.Second}
		var ver homeplug.SwVerCnf
		err := q.ask(context.Background(), &homeplug.SwVerReq{}, &ver)
		if len(c.written) != 1 {
			t.Fatalf("%d requests sent", len(c.written))
		}
		if err != nil {
			if errors.Is(err, errNoAnswer) {
				t.Fatalf("the input ended, but: %v", err)
			}
			return
		}
		// A socket truncates a frame to the reader's buffer, so does scriptConn.
		dec, derr := homeplug.Decode(frame[:min(len(frame), link.MaxFrameSize)])
		got, ok := dec.Message.(*homeplug.SwVerCnf)
		if derr != nil || !ok || got.Version != ver.Version || q.from != dec.Src {
			t.Fatalf("answer %q from %v; Decode says %+v, %v", ver.Version, q.from, dec, derr)
		}
	})
}

// earlyDeadlineConn fails its reads as a raw socket whose deadline fired a
// moment before the context's own timer.
type earlyDeadlineConn struct{ scriptConn }

func (c *earlyDeadlineConn) ReadFrame(context.Context, []byte) (int, error) {
	return 0, fmt.Errorf("read packet: %w", context.DeadlineExceeded)
}

// TestAskEarlyDeadline: a socket deadline that beats the context's timer is
// still "no answer", not a read failure.
func TestAskEarlyDeadline(t *testing.T) {
	q := querier{conn: &earlyDeadlineConn{}, host: homeplug.MAC(hostMAC), timeout: time.Hour}
	var ver homeplug.SwVerCnf
	if err := q.ask(context.Background(), &homeplug.SwVerReq{}, &ver); !errors.Is(err, errNoAnswer) {
		t.Fatalf("err %v, want errNoAnswer", err)
	}
}
