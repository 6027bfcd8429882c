package modemsim_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// t0 is the start of every simulated session.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// waitLimit bounds a wait that only fails a broken test; nothing waits for it to pass.
const waitLimit = 10 * time.Second

// bench is a line on a fake clock whose events a test can wait for.
type bench struct {
	t      *testing.T
	clock  *clock.Fake
	line   *modemsim.Line
	events chan modemsim.Event
}

func newBench(t *testing.T, cfg modemsim.LineConfig) *bench {
	t.Helper()
	b := &bench{t: t, clock: clock.NewFake(t0), events: make(chan modemsim.Event, 1<<16)}
	cfg.Clock = b.clock
	cfg.Events = func(e modemsim.Event) {
		select {
		case b.events <- e:
		default:
			t.Errorf("event queue full, lost %+v", e)
		}
	}
	b.line = modemsim.NewLine(context.Background(), cfg)
	t.Cleanup(func() { b.line.Close() })
	return b
}

func (b *bench) modem(cfg modemsim.ModemConfig) *modemsim.Modem {
	b.t.Helper()
	m, err := b.line.AddModem(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	return m
}

// wait returns the next event that matches ok, skipping the others.
func (b *bench) wait(ok func(e modemsim.Event) bool) modemsim.Event {
	b.t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		select {
		case e := <-b.events:
			if ok(e) {
				return e
			}
		case <-timeout.C:
			b.t.Fatal("no such event")
		}
	}
}

// waitFor returns the event about a frame of type et from from's host to to (empty: the sender's decision).
func (b *bench) waitFor(from, to *modemsim.Modem, et uint16) modemsim.Event {
	b.t.Helper()
	toName := ""
	if to != nil {
		toName = to.Name()
	}
	return b.wait(func(e modemsim.Event) bool {
		return e.From == from.Name() && e.To == toName && e.EtherType == et
	})
}

// waitMsg returns the event about an MME of type mt from from's host to to (nil: the sender's decision).
func (b *bench) waitMsg(from, to *modemsim.Modem, mt homeplug.MMType) modemsim.Event {
	b.t.Helper()
	toName := ""
	if to != nil {
		toName = to.Name()
	}
	return b.wait(func(e modemsim.Event) bool {
		return e.From == from.Name() && e.To == toName && e.MMType == mt
	})
}

func send(t *testing.T, p link.Conn, frame []byte) {
	t.Helper()
	if err := p.WriteFrame(context.Background(), frame); err != nil {
		t.Fatal(err)
	}
}

func sendMsg(t *testing.T, p link.Conn, dst, src homeplug.MAC, m homeplug.Message) {
	t.Helper()
	f, err := homeplug.AppendFrame(nil, homeplug.NewHeader(dst, src, m.MMType()), m)
	if err != nil {
		t.Fatal(err)
	}
	send(t, p, f)
}

func read(t *testing.T, p link.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	buf := make([]byte, link.MaxFrameSize)
	n, err := p.ReadFrame(ctx, buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func readMsg(t *testing.T, p link.Conn) homeplug.Frame {
	t.Helper()
	f, err := homeplug.Decode(read(t, p))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ipv6 returns a minimal IPv6 Ethernet frame.
func ipv6(dst, src homeplug.MAC) []byte {
	f := make([]byte, 60)
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x86DD)
	f[14] = 0x60
	return f
}

const etIPv6 = 0x86DD

// allMulticast is the IPv6 all-nodes multicast MAC, where SDP goes.
var allMulticast = homeplug.MAC{0x33, 0x33, 0, 0, 0, 1}

// key keys m's modem with nmk and waits for the CNF.
func (b *bench) key(m *modemsim.Modem, nmk homeplug.NMK) {
	b.t.Helper()
	req := homeplug.NewSetKeyReq(nmk)
	sendMsg(b.t, m.Host(), homeplug.LocalModemMAC, m.HostMAC(), &req)
	if f := readMsg(b.t, m.Host()); f.MMType != homeplug.CMSetKeyCnf {
		b.t.Fatalf("got %v, want CM_SET_KEY.CNF", f.MMType)
	}
}

// queued returns the number of frames a host port has received so far,
// once the line has settled: a Port counts a frame just after queueing it.
func (b *bench) queued(p *link.Port) uint64 {
	b.t.Helper()
	if err := b.line.Settle(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	return p.Stats().Received
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
