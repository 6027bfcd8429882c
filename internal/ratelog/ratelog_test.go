package ratelog

import (
	"fmt"
	"testing"
	"time"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type call struct {
	ok   bool
	held int
}

func TestAllowPerKey(t *testing.T) {
	clk := &fakeNow{t0}
	l := New(10*time.Second, 0, clk.now)
	var got []call
	allow := func(key string) {
		ok, held := l.Allow(key)
		got = append(got, call{ok, held})
	}
	allow("a") // first line
	allow("a") // held
	allow("b") // another peer: its own first line
	allow("a") // held
	clk.t = t0.Add(9999 * time.Millisecond)
	allow("a") // still held
	clk.t = t0.Add(10 * time.Second)
	allow("a") // due: three were held
	allow("a") // held again
	clk.t = t0.Add(20 * time.Second)
	allow("a") // due: one held
	allow("b") // due: none held
	want := []call{{true, 0}, {false, 0}, {true, 0}, {false, 0}, {false, 0}, {true, 3}, {false, 0}, {true, 1}, {true, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestAllowBounded: a flood of distinct keys keeps at most maxKeys (and
// Others) in memory, logs one line for all the keys beyond the limit per
// interval, and counts what it held back.
func TestAllowBounded(t *testing.T) {
	clk := &fakeNow{t0}
	l := New(10*time.Second, 100, clk.now)
	logged, held := 0, 0
	for i := 0; i < 5000; i++ {
		ok, h := l.Allow(fmt.Sprint("peer", i))
		if ok {
			logged++
		}
		held += h
	}
	// 100 keys get their line, the 4,900 others share one.
	if logged != 101 || held != 0 || l.Len() != 101 {
		t.Fatalf("logged %d, held %d reported, %d keys; want 101, 0, 101", logged, held, l.Len())
	}
	// An interval later the quiet keys are forgotten; Others reports the 4,899 it held back.
	clk.t = t0.Add(10 * time.Second)
	ok, h := l.Allow("peer 5000")
	if !ok || h != 0 {
		t.Fatalf("a new key after the sweep: %v %d", ok, h)
	}
	ok, h = l.Allow(Others)
	if !ok || h != 4899 || l.Len() != 2 {
		t.Fatalf("Others: %v, held %d, %d keys; want true, 4899, 2", ok, h, l.Len())
	}
}

// TestSweepOncePerInterval: when every tracked key is recent, new keys go
// to Others without a scan each.
func TestSweepOncePerInterval(t *testing.T) {
	clk := &fakeNow{t0}
	l := New(time.Minute, 2, clk.now)
	l.Allow("a")
	l.Allow("b")
	l.Allow("c") // full: sweeps, finds nothing quiet, goes to Others
	before := l.lastSweep
	clk.t = t0.Add(time.Second)
	if ok, _ := l.Allow("d"); ok {
		t.Fatal("d logged: Others already logged within the interval")
	}
	if l.lastSweep != before || !before.Equal(t0) {
		t.Fatalf("swept again at %v", l.lastSweep)
	}
}

func BenchmarkAllowFlood(b *testing.B) {
	l := New(10*time.Second, 0, nil)
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = fmt.Sprint("fe80::", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Allow(keys[i%len(keys)])
	}
}
