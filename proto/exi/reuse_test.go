package exi_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/ccslink/ccslink/proto/exi"
)

// readScript reads b with a fixed mix of reads and describes every value,
// error and position, so that two ways of reading can be compared.
func readScript(r *exi.Reader, ops []int) string {
	out := ""
	for _, op := range ops {
		var v any
		var err error
		switch {
		case op <= 32:
			v, err = r.Bits(op)
		case op == 33:
			v, err = r.Uint()
		case op == 34:
			v, err = r.Int()
		case op == 35:
			v = r.Zero()
		case op == 36:
			v, err = r.Binary(-1, "b")
		case op == 37:
			v, err = r.String(-1, "q", "s")
		}
		out += fmt.Sprintf("%d:%v/%v@%d ", op, v, err, r.Pos())
		if err != nil {
			break
		}
	}
	return out
}

// TestReuseReadsAsReset: reading from Reuse's padded copy gives the same
// values, errors and positions as reading the input itself, at every
// length of the input: the padding is never taken for input.
func TestReuseReadsAsReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var fresh, reused exi.Reader
	for round := range 300 {
		src := make([]byte, 1+rng.IntN(40))
		for i := range src {
			src[i] = byte(rng.Uint32())
			if rng.IntN(3) == 0 {
				src[i] &= 0x7F // ends Uints and makes short lengths
			}
		}
		ops := make([]int, 30)
		for i := range ops {
			ops[i] = rng.IntN(38)
		}
		for cut := 0; cut <= len(src); cut++ {
			fresh.Reset(src[:cut])
			reused.Reuse(src[:cut])
			want, got := readScript(&fresh, ops), readScript(&reused, ops)
			if got != want {
				t.Fatalf("round %d, %d of %d bytes %x:\n Reuse %s\n Reset %s", round, cut, len(src), src[:cut], got, want)
			}
		}
	}
}

// TestReuseStorage: Reset hands out new storage, so values of an earlier
// document stay; Reuse hands the same storage out again, without
// allocating; equal strings are made once.
func TestReuseStorage(t *testing.T) {
	doc := []byte{0x04, 'a', 'b'} // a string of 2 characters
	var r exi.Reader
	r.Reset(doc)
	p := r.NewInt16()
	*p = 7
	r.Reset(doc)
	if q := r.NewInt16(); q == p || *p != 7 {
		t.Errorf("Reset handed out the earlier document's storage again")
	}

	var d exi.Reader
	read := func() (*int16, []byte, string) {
		d.Reuse([]byte{0x05, 'e', 'v', 's', 0x03, 1, 2, 3})
		s, err := d.String(-1, "q", "s")
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Binary(-1, "b")
		if err != nil {
			t.Fatal(err)
		}
		return d.NewInt16(), b, s
	}
	p1, b1, s1 := read()
	p2, b2, s2 := read()
	if p1 != p2 || &b1[0] != &b2[0] {
		t.Errorf("Reuse handed out new storage: %p %p, %p %p", p1, p2, &b1[0], &b2[0])
	}
	if s1 != "evs" || s2 != "evs" || unsafe.StringData(s1) != unsafe.StringData(s2) {
		t.Errorf("strings %q %q: made twice", s1, s2)
	}
	if n := testing.AllocsPerRun(50, func() { read() }); n != 0 {
		t.Errorf("Reuse: %v allocations per document, want 0", n)
	}
}

// TestReuseInternBounded: hostile input of ever new strings does not grow
// the table of strings made once beyond its bound.
func TestReuseInternBounded(t *testing.T) {
	var r exi.Reader
	for i := range 1000 {
		s := fmt.Sprintf("s%04d", i)
		b := append([]byte{byte(len(s) + 2)}, s...)
		r.Reuse(b)
		got, err := r.String(-1, "q", "s")
		if err != nil || got != s {
			t.Fatalf("%q: %q, %v", s, got, err)
		}
	}
	// The table is private; its bound shows in the memory one more
	// document takes, which is what a flood would grow.
	if n := testing.AllocsPerRun(10, func() {
		r.Reuse([]byte{7, 'h', 'e', 'l', 'l', 'o'})
		r.String(-1, "q", "s")
	}); n > 2 {
		t.Errorf("%v allocations for a string after a flood", n)
	}
}

// TestReuseInternFloodInOneDocument: one document of thousands of
// distinct strings makes Reuse allocate no more than Reset (the table of
// strings made once stays bounded), and strings are made once again in the
// documents after it.
func TestReuseInternFloodInOneDocument(t *testing.T) {
	const n = 5000
	var doc []byte
	for i := range n {
		doc = append(doc, 5, 'a'+byte(i/676%26), 'a'+byte(i/26%26), 'a'+byte(i%26))
	}
	read := func(r *exi.Reader) {
		for range n {
			if _, err := r.String(-1, "q", "s"); err != nil {
				t.Fatal(err)
			}
		}
	}
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var fresh, reused exi.Reader
	reset := allocated(func() { fresh.Reset(doc); read(&fresh) })
	reuse := allocated(func() { reused.Reuse(doc); read(&reused) })
	if reuse > reset+uint64(2*len(doc))+16<<10 { // its padded copy of the input, and slack
		t.Errorf("Reuse allocated %d bytes for the flood, Reset %d", reuse, reset)
	}
	var data []*byte
	for range 2 {
		reused.Reuse([]byte{0x05, 'e', 'v', 's'})
		s, err := reused.String(-1, "q", "s")
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, unsafe.StringData(s))
	}
	if data[0] != data[1] {
		t.Error("after the flood, equal strings are made twice")
	}
}

// TestSlab: one generation hands out distinct storage; the next the same
// again, in the same order.
func TestSlab(t *testing.T) {
	var s exi.Slab[int]
	seen := map[*int]bool{}
	var first []*int
	for range 100 {
		p := s.New(1)
		if seen[p] {
			t.Fatal("storage handed out twice in one generation")
		}
		seen[p] = true
		first = append(first, p)
	}
	for i := range 100 {
		if p := s.New(2); p != first[i] {
			t.Fatalf("generation 2, value %d: new storage", i)
		}
	}
	gen := uint32(2)
	if n := testing.AllocsPerRun(10, func() {
		gen++
		for range 100 {
			s.New(gen)
		}
	}); n != 0 {
		t.Errorf("%v allocations in a later generation", n)
	}
}

// TestSlabGenerationZero: generation 0 never hands storage out again.
func TestSlabGenerationZero(t *testing.T) {
	var s exi.Slab[int16]
	seen := map[*int16]bool{}
	for range 200 {
		p := s.New(0)
		if seen[p] {
			t.Fatal("generation 0 handed storage out twice")
		}
		seen[p] = true
	}
	if p := s.New(1); seen[p] {
		t.Fatal("generation 1 took generation 0's storage")
	}
}

// TestGrow: Grow keeps the memory past the length.
func TestGrow(t *testing.T) {
	s := make([]int, 1, 4)
	s[0] = 1
	g := exi.Grow(s)
	if len(g) != 2 || &g[0] != &s[0] {
		t.Fatalf("Grow: len %d, moved", len(g))
	}
	full := []int{1, 2}
	g = exi.Grow(full)
	if len(g) != 3 || g[0] != 1 || g[1] != 2 || g[2] != 0 {
		t.Fatalf("Grow of a full slice: %v", g)
	}
}
