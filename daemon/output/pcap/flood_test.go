package pcap

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"testing"

	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
	"github.com/ccslink/ccslink/tools/capture"
)

// feed is a HomePlug port whose reads return the frames given to it, one each.
type feed struct{ next []byte }

func (f *feed) ReadFrame(_ context.Context, buf []byte) (int, error) { return copy(buf, f.next), nil }
func (f *feed) WriteFrame(context.Context, []byte) error             { return nil }

// hp encodes one HomePlug message.
func hp(t testing.TB, dst, src homeplug.MAC, m homeplug.Message) []byte {
	t.Helper()
	b, err := homeplug.AppendFrame(nil, homeplug.NewHeader(dst, src, m.MMType()), m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func heap() runtime.MemStats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// TestFloodBeforeTheCar: 200,000 CM_SLAC_PARM.REQ from other stations (and
// the charger's answers to some) fill more than the budget before the car
// comes; the car then matches with the flood still going, and talks V2G.
// Its recording holds exactly the car's SLAC, the charger's frames with
// its modem and the car's V2G; the buffer's live heap stays within the budget.
func TestFloodBeforeTheCar(t *testing.T) {
	dir := t.TempDir()
	lb := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := New(Config{Dir: dir, MAC: chargerMAC, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	src := &feed{}
	port := r.Tap(src)
	buf := make([]byte, 1514)
	ctx := context.Background()
	fed := 0 // HomePlug frames handed to the recorder
	read := func(f []byte) {
		src.next = f
		if _, err := port.ReadFrame(ctx, buf); err != nil {
			t.Fatal(err)
		}
		fed++
	}
	write := func(f []byte) {
		if err := port.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
		fed++
	}
	evse := homeplug.MAC(chargerMAC)
	modem := homeplug.MAC{0x00, 0xb0, 0x52, 0x00, 0x00, 0x01}
	rng := rand.New(rand.NewPCG(1, 2))
	// One frame of the flood, built in place: a new station and RunID each.
	parm := hp(t, homeplug.BroadcastMAC, homeplug.MAC{}, &homeplug.SlacParmReq{})
	answer := hp(t, homeplug.MAC{}, evse, &homeplug.SlacParmCnf{})
	stranger := func(i int) homeplug.MAC {
		return homeplug.MAC{0x02, 0xff, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
	}
	flood := func(i int) {
		s := stranger(i)
		copy(parm[6:12], s[:])
		binary.LittleEndian.PutUint64(parm[21:], rng.Uint64()) // its RunID
		read(parm)
		if i%10 == 0 {
			copy(answer[0:6], s[:])
			write(answer)
		}
	}

	before := heap()
	r.Event(record.Event{Kind: record.KindSLACStarted, At: t0}, &record.Session{})
	write(hp(t, modem, evse, &homeplug.SetKeyReq{}))
	read(hp(t, evse, modem, &homeplug.SetKeyCnf{}))
	const floodFrames = 200_000
	i := 0
	for ; i < floodFrames; i++ {
		flood(i)
	}
	// The car's SLAC, the flood between its frames.
	var want [][]byte
	carFrame := func(f []byte, fromCar bool) {
		want = append(want, f)
		if fromCar {
			read(f)
		} else {
			write(f)
		}
		flood(i)
		i++
	}
	runID := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	carFrame(hp(t, homeplug.BroadcastMAC, carMAC, &homeplug.SlacParmReq{RunID: runID}), true)
	carFrame(hp(t, carMAC, evse, &homeplug.SlacParmCnf{RunID: runID}), false)
	for range 3 {
		carFrame(hp(t, homeplug.BroadcastMAC, carMAC, &homeplug.StartAttenCharInd{RunID: runID}), true)
	}
	for range 10 {
		carFrame(hp(t, homeplug.BroadcastMAC, carMAC, &homeplug.MnbcSoundInd{RunID: runID}), true)
	}
	aag := bytes.Repeat([]byte{20}, 58)
	// The modem measures a neighbour's sounds too: left out.
	read(hp(t, evse, modem, &homeplug.AttenProfileInd{PEVMAC: stranger(7), AAG: aag}))
	carFrame(hp(t, evse, modem, &homeplug.AttenProfileInd{PEVMAC: carMAC, AAG: aag}), true)
	carFrame(hp(t, carMAC, evse, &homeplug.AttenCharInd{RunID: runID, AAG: aag}), false)
	carFrame(hp(t, evse, carMAC, &homeplug.AttenCharRsp{RunID: runID}), true)
	carFrame(hp(t, evse, carMAC, &homeplug.SlacMatchReq{RunID: runID}), true)
	carFrame(hp(t, carMAC, evse, &homeplug.SlacMatchCnf{RunID: runID}), false)
	carFrame(hp(t, modem, evse, &homeplug.PlLnkStatusReq{}), false)
	carFrame(hp(t, evse, modem, &homeplug.PlLnkStatusCnf{LinkStatus: homeplug.LinkUp}), true)
	// The most memory the recording holds: the budget full of the flood.
	full := heap()
	r.mu.Lock()
	fullCost, fullFrames := r.buf.bytes, r.buf.frames()
	r.mu.Unlock()
	r.Event(record.Event{Kind: record.KindMatched, At: t0, EVMAC: carMAC.String()}, nil)
	// The flood goes on during the car's session: none of it is kept.
	var msgs [][]byte
	for j := range 20 {
		for range 50 {
			flood(i)
			i++
		}
		m := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, bytes.Repeat([]byte{byte(j)}, 20+j*100))
		r.V2G(t0, j%2 == 0, car, charger, m)
		msgs = append(msgs, m)
	}
	after := heap()
	growth := int64(full.HeapAlloc) - int64(before.HeapAlloc)
	r.mu.Lock()
	cost, frames := r.buf.bytes, r.buf.frames()
	r.mu.Unlock()
	t.Logf("%d HomePlug frames fed, %d from other stations; before the match, the buffer held %d frames in %.2f MiB and the live heap had grown %.2f MiB for a budget of %.0f MiB (%.2fx); at the end it holds %d frames in %.2f MiB (heap +%.2f MiB); %.1f MiB allocated in all",
		fed, fed-len(want), fullFrames, float64(fullCost)/(1<<20), float64(growth)/(1<<20), float64(DefaultMaxBytes)/(1<<20), float64(growth)/DefaultMaxBytes,
		frames, float64(cost)/(1<<20), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
	if growth > DefaultMaxBytes*11/10 {
		t.Errorf("live heap grew %d bytes, over 1.1 times the budget of %d", growth, DefaultMaxBytes)
	}
	if fullCost > DefaultMaxBytes || fullCost < DefaultMaxBytes*9/10 {
		t.Errorf("the flood filled the buffer with %d bytes, want the budget of %d (within a chunk)", fullCost, DefaultMaxBytes)
	}

	r.PlugInEnded(&record.Session{EVMAC: carMAC.String(), Phases: record.Phases{SLACStart: t0, Matched: t0}})
	<-r.written
	files, _ := Files(dir)
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	c, err := capture.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	got := capture.HomePlug(c.Frames())
	if len(got) != len(want) {
		t.Fatalf("%d HomePlug frames in the recording, want the car's %d", len(got), len(want))
	}
	for k := range want {
		if !bytes.Equal(got[k].Data, want[k]) {
			t.Errorf("HomePlug frame %d:\n% x\nwant\n% x", k, got[k].Data, want[k])
		}
	}
	v2g, _ := capture.V2GTP(c.Frames())
	if len(v2g) != len(msgs) {
		t.Fatalf("%d V2G messages, want %d", len(v2g), len(msgs))
	}
	for k, m := range v2g {
		if !bytes.Equal(v2gtp.AppendMessage(nil, m.Header.Type, m.Payload), msgs[k]) {
			t.Errorf("V2G message %d differs", k)
		}
	}
	// Every frame is kept, dropped before the car, or left out; the log says how many.
	line := regexp.MustCompile(`msg="recording: saved" file=\S+ frames=(\d+) other_stations_frames_left_out=(\d+) frames_dropped_before_the_car=(\d+)`).FindStringSubmatch(lb.String())
	if line == nil {
		t.Fatalf("log: %s", lb.String())
	}
	n := make([]int, 3)
	for k := range n {
		n[k], _ = strconv.Atoi(line[k+1])
	}
	if n[0] != len(c.Frames()) {
		t.Errorf("the log says %d frames, the file holds %d", n[0], len(c.Frames()))
	}
	if kept := len(want); kept+n[1]+n[2] != fed {
		t.Errorf("%d kept + %d left out + %d dropped != %d fed", kept, n[1], n[2], fed)
	}
	if n[2] == 0 || n[1] == 0 {
		t.Errorf("the flood was neither dropped nor left out: %v", n)
	}
}

// BenchmarkFlood is one frame of a flood before the car through the tap:
// its cost in time and allocations once the budget is full.
func BenchmarkFlood(b *testing.B) {
	r, err := New(Config{Dir: b.TempDir(), MAC: chargerMAC})
	if err != nil {
		b.Fatal(err)
	}
	r.Event(record.Event{Kind: record.KindSLACStarted, At: t0}, &record.Session{})
	src := &feed{next: hp(b, homeplug.BroadcastMAC, homeplug.MAC{2, 0xff}, &homeplug.SlacParmReq{})}
	port := r.Tap(src)
	buf := make([]byte, 1514)
	b.ReportAllocs()
	for b.Loop() {
		port.ReadFrame(context.Background(), buf)
	}
}
