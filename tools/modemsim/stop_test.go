package modemsim

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
)

// stopped fails the test unless wg's goroutines end; the limit only bounds a broken test.
func stopped(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("goroutines still running")
	}
}

// sound returns a CM_MNBC_SOUND.IND from src, so a profile is pending.
func sound(t *testing.T, src homeplug.MAC) []byte {
	f, err := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.BroadcastMAC, src, homeplug.CMMnbcSoundInd), &homeplug.MnbcSoundInd{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLineStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	l := NewLine(ctx, LineConfig{ProfileDelay: time.Hour})
	defer l.Close()
	evse, _ := l.AddModem(ModemConfig{EVSE: true})
	ev, _ := l.AddModem(ModemConfig{})
	if err := ev.Host().WriteFrame(ctx, sound(t, ev.HostMAC())); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, link.MaxFrameSize)
	if _, err := evse.Host().ReadFrame(ctx, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	stopped(t, &l.wg)
	if l.sched.timer != nil || l.sched.jobs != nil {
		t.Error("a timer outlived the line")
	}
	if err := l.Settle(context.Background()); err == nil {
		t.Error("Settle on a stopped line")
	}
}

func TestEmulatorStopsOnCancel(t *testing.T) {
	a, b, err := link.Pipe(homeplug.MAC{2, 0, 0, 0, 0, 1}.HardwareAddr(), homeplug.MAC{2, 0, 0, 0, 0, 2}.HardwareAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	e, err := Emulate(ctx, a, EmulateConfig{Modem: ModemConfig{EVSE: true}, ProfileDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := b.WriteFrame(ctx, sound(t, homeplug.MAC{2, 0, 0, 0, 0, 2})); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, link.MaxFrameSize)
	if _, err := e.Host().ReadFrame(ctx, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	stopped(t, &e.wg)
	if e.sched.timer != nil || e.sched.jobs != nil {
		t.Error("a timer outlived the emulator")
	}
}
