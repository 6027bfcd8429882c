package pcap

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// cost is what the buffer's chunks hold, counted afresh.
func (b *buffer) cost() int {
	n := 0
	for _, c := range b.chunks {
		n += c.cost()
	}
	return n
}

func (b *buffer) all() (frames [][]byte, at []time.Time) {
	b.each(func(t time.Time, f []byte) error {
		frames, at = append(frames, bytes.Clone(f)), append(at, t)
		return nil
	})
	return frames, at
}

// Before the match the newest frames are kept within the budget, after it
// the oldest; keep leaves exactly the frames it accepts, in order, and
// never holds more memory than before.
func TestBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 50 {
		limit := 8<<10 + rng.IntN(64<<10)
		b := newBuffer(limit)
		var fed [][]byte
		for i := range 2000 + rng.IntN(2000) {
			size := 14 + rng.IntN(1500)
			if rng.IntN(2) == 0 {
				size = 14 + rng.IntN(40) // many to a chunk: its index grows
			}
			f := bytes.Repeat([]byte{byte(i)}, size)
			f[0], f[1] = byte(i>>8), byte(i)
			if !b.add(t0.Add(time.Duration(i)), f) {
				t.Fatalf("round %d: frame %d refused before the match", round, i)
			}
			fed = append(fed, f)
			if b.bytes != b.cost() || b.bytes > limit {
				t.Fatalf("round %d: %d bytes counted, %d held, limit %d", round, b.bytes, b.cost(), limit)
			}
		}
		got, at := b.all()
		if len(got)+b.evicted != len(fed) || len(got) == 0 {
			t.Fatalf("round %d: %d kept, %d evicted of %d", round, len(got), b.evicted, len(fed))
		}
		newest := fed[len(fed)-len(got):]
		for i := range got {
			if !bytes.Equal(got[i], newest[i]) || !at[i].Equal(t0.Add(time.Duration(len(fed)-len(got)+i))) {
				t.Fatalf("round %d: frame %d is not the newest in order", round, i)
			}
		}
		odd := func(f []byte) bool { return f[1]%3 != 0 && len(f) > 200 }
		var want [][]byte
		for _, f := range got {
			if odd(f) {
				want = append(want, f)
			}
		}
		held := b.bytes
		if d := b.keep(odd); d != len(got)-len(want) {
			t.Fatalf("round %d: keep dropped %d, want %d", round, d, len(got)-len(want))
		}
		if b.bytes != b.cost() || b.bytes > held {
			t.Fatalf("round %d: after keep %d bytes counted, %d held, %d before", round, b.bytes, b.cost(), held)
		}
		kept, _ := b.all()
		if len(kept) != len(want) {
			t.Fatalf("round %d: %d kept, want %d", round, len(kept), len(want))
		}
		for i := range kept {
			if !bytes.Equal(kept[i], want[i]) {
				t.Fatalf("round %d: kept frame %d differs", round, i)
			}
		}
		// After the match: the oldest stay, the rest is cut.
		b.keepOldest = true
		n := len(kept)
		for i := 0; !b.cut; i++ {
			if i > 100000 {
				t.Fatalf("round %d: never cut", round)
			}
			if b.add(t0, bytes.Repeat([]byte{0xee}, 60+rng.IntN(1400))) {
				n++
			}
		}
		if all, _ := b.all(); len(all) != n || b.bytes > limit || b.bytes != b.cost() || (n > len(kept) && !bytes.Equal(all[len(kept)-1], want[len(want)-1])) {
			t.Fatalf("round %d: after the cut %d frames (want %d), %d bytes of %d", round, len(all), n, b.bytes, limit)
		}
	}
}

// Everything dropped: the buffer gives back all its memory.
func TestBufferKeepNone(t *testing.T) {
	b := newBuffer(1 << 20)
	for i := range 500 {
		b.add(t0, make([]byte, 60+i))
	}
	if d := b.keep(func([]byte) bool { return false }); d != 500 || b.bytes != 0 || len(b.chunks) != 0 || b.frames() != 0 {
		t.Fatalf("dropped %d, %d bytes, %d chunks left", d, b.bytes, len(b.chunks))
	}
	if !b.add(t0, []byte("a frame")) || b.frames() != 1 {
		t.Fatal("no frame after keep")
	}
}

func TestOtherStation(t *testing.T) {
	car := carMAC[:]
	frame := func(dst, src []byte, mmv byte, mmtype uint16, payload ...byte) []byte {
		f := append(append(append([]byte{}, dst...), src...), 0x88, 0xe1, mmv, byte(mmtype), byte(mmtype>>8))
		if mmv != 0 {
			f = append(f, 0, 0)
		}
		return append(f, payload...)
	}
	other := []byte{2, 0xff, 0, 0, 0, 7}
	modem := []byte{0, 0xb0, 0x52, 0, 0, 1}
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for _, c := range []struct {
		name  string
		f     []byte
		other bool
	}{
		{"the car's PARM.REQ", frame(bcast, car, 1, 0x6064), false},
		{"another's PARM.REQ", frame(bcast, other, 1, 0x6064), true},
		{"the answer to the car", frame(car, chargerMAC, 1, 0x6065), false},
		{"the answer to another", frame(other, chargerMAC, 1, 0x6065), true},
		{"another's sound", frame(bcast, other, 1, 0x6076), true},
		{"another's MATCH.REQ", frame(chargerMAC, other, 1, 0x607c), true},
		{"the car's profile", frame(chargerMAC, modem, 1, 0x6086, car...), false},
		{"another's profile", frame(chargerMAC, modem, 1, 0x6086, other...), true},
		{"a short profile", frame(chargerMAC, modem, 1, 0x6086, 1, 2), false},
		{"CM_SET_KEY", frame(modem, chargerMAC, 1, 0x6008), false},
		{"VS_PL_LNK_STATUS", frame(modem, chargerMAC, 0, 0xa0b8), false},
		{"IPv6", append(append(append([]byte{}, car...), chargerMAC...), 0x86, 0xdd, 0x60, 0, 0), false},
		{"too short", []byte{1, 2, 3}, false},
	} {
		if got := otherStation(c.f, car, chargerMAC); got != c.other {
			t.Errorf("%s: %v, want %v", c.name, got, c.other)
		}
	}
}
