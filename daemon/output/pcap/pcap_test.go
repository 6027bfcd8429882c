package pcap

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
)

var (
	chargerMAC = net.HardwareAddr{2, 0, 0, 0, 0xe5, 1}
	carMAC     = homeplug.MAC{2, 0, 0, 0, 0xca, 1}
	car        = netip.MustParseAddrPort("[fe80::ff:fe00:ca01]:50000")
	charger    = netip.MustParseAddrPort("[fe80::ff:fe00:e501]:61851")
	t0         = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

// plugIn feeds r a plug-in: a SLAC frame each way through the tapped
// port, and a V2G exchange, one message longer than a TCP segment.
func plugIn(t *testing.T, r *Recorder, at time.Time) (hp [][]byte, v2g [][]byte) {
	t.Helper()
	a, b, err := link.Pipe(chargerMAC, net.HardwareAddr(carMAC[:]))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	port := r.Tap(a)
	r.Event(record.Event{Kind: record.KindSLACStarted, At: at}, &record.Session{})
	req, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.MAC(chargerMAC), carMAC, homeplug.CMSlacParmReq), &homeplug.SlacParmReq{})
	b.WriteFrame(context.Background(), req)
	buf := make([]byte, link.MaxFrameSize)
	n, err := port.ReadFrame(context.Background(), buf)
	if err != nil {
		t.Fatal(err)
	}
	cnf, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(carMAC, homeplug.MAC(chargerMAC), homeplug.CMSlacParmCnf), &homeplug.SlacParmCnf{})
	if err := port.WriteFrame(context.Background(), cnf); err != nil {
		t.Fatal(err)
	}
	r.Event(record.Event{Kind: record.KindMatched, At: at, EVMAC: carMAC.String()}, nil)
	sap := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, []byte{0x80, 0x00, 0xdb, 0xab})
	big := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, bytes.Repeat([]byte{0x42}, 3000))
	r.V2G(at, true, car, charger, sap)
	r.V2G(at, false, car, charger, big)
	return [][]byte{buf[:n], cnf}, [][]byte{sap, big}
}

func TestRecordAndReadBack(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "recordings")
	r, err := New(Config{Dir: dir, Keep: 2, MAC: chargerMAC})
	if err != nil {
		t.Fatal(err)
	}
	hp, v2g := plugIn(t, r, t0)
	r.PlugInEnded(&record.Session{EVMAC: carMAC.String(), Phases: record.Phases{SLACStart: t0, Matched: t0}})
	<-r.written
	files, _ := Files(dir)
	if len(files) != 1 || filepath.Base(files[0]) != "plugin-20261201T120000.000Z-02000000ca01.pcap" {
		t.Fatalf("files %v", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode() != FileMode {
		t.Errorf("the file's mode with umask 0: %v %v, want %v", fi.Mode(), err, FileMode)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode() != os.ModeDir|0o750 {
		t.Errorf("the directory's mode with umask 0: %v %v", fi.Mode(), err)
	}
	c, err := capture.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	got := capture.HomePlug(c.Frames())
	if len(got) != 2 || !bytes.Equal(got[0].Data, hp[0]) || !bytes.Equal(got[1].Data, hp[1]) {
		t.Fatalf("HomePlug frames %d", len(got))
	}
	msgs, streams := capture.V2GTP(c.Frames())
	if len(msgs) != 2 || msgs[0].Src != car || msgs[1].Src != charger {
		t.Fatalf("V2G messages %+v, streams %+v", msgs, streams)
	}
	for i, m := range msgs {
		if !bytes.Equal(v2gtp.AppendMessage(nil, m.Header.Type, m.Payload), v2g[i]) {
			t.Errorf("message %d differs", i)
		}
	}
	for _, s := range streams {
		if s.Gaps != 0 || s.Skipped != 0 {
			t.Errorf("stream %+v", s)
		}
	}
}

func TestKeepAndNoCar(t *testing.T) {
	dir := t.TempDir()
	r, _ := New(Config{Dir: dir, Keep: 2, MAC: chargerMAC})
	for i := 0; i < 3; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		plugIn(t, r, at)
		r.PlugInEnded(&record.Session{EVMAC: carMAC.String(), Phases: record.Phases{SLACStart: at, Matched: at}})
		<-r.written
	}
	// No car: nothing written.
	r.Event(record.Event{Kind: record.KindSLACStarted, At: t0}, &record.Session{})
	r.PlugInEnded(&record.Session{})
	files, _ := Files(dir)
	if len(files) != 2 || !bytes.Contains([]byte(files[0]), []byte("T120100")) {
		t.Fatalf("files %v", files)
	}
}

func TestBadDir(t *testing.T) {
	dir := t.TempDir()
	r, _ := New(Config{Dir: dir, MAC: chargerMAC})
	plugIn(t, r, t0)
	// The directory vanishes and a file takes its place: logged, no panic.
	os.RemoveAll(dir)
	os.WriteFile(dir, []byte("x"), 0o600)
	r.PlugInEnded(&record.Session{EVMAC: carMAC.String(), Phases: record.Phases{Matched: t0}})
	<-r.written
	if _, err := New(Config{Dir: filepath.Join(dir, "sub")}); err == nil {
		t.Fatal("New in a path below a file")
	}
}
