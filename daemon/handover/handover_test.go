package handover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

const (
	now  = record.StrategyDeliverNow
	x1   = record.StrategyX1ThenPWM
	end  = record.StrategyEndThenDeliver
	noNe = record.StrategyNoNegotiation
	idOn = record.StrategyIdentifyOnly
	ac   = record.OutcomeACStarted
	noAC = record.OutcomeNoAC
	nObs = record.OutcomeNotObserved
)

var t0 = time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)

// car builds a car from (strategy, outcome) pairs noted one minute apart.
func car(pairs ...string) *Car {
	var c *Car
	for i := 0; i < len(pairs); i += 2 {
		n := Note(c, "id3", pairs[i], pairs[i+1], t0.Add(time.Duration(i/2)*time.Minute))
		c = &n
	}
	return c
}

// withoutSoC notes n plug-ins of c that charged under no-negotiation.
func withoutSoC(c *Car, n int) *Car {
	for i := range n {
		x := Note(c, "id3", noNe, ac, t0.Add(time.Hour+time.Duration(i)*time.Minute))
		c = &x
	}
	return c
}

// TestWithoutSoC: Note counts the plug-ins in a row without a SoC, and a
// SoC strategy noted resets the count; after a retry that fails, the
// count starts again from 0.
func TestWithoutSoC(t *testing.T) {
	c := withoutSoC(car(now, noAC), RetryAfter)
	if c.WithoutSoC != RetryAfter {
		t.Fatalf("WithoutSoC %d", c.WithoutSoC)
	}
	s, why := Choose("", c, For(false, Order))
	n := Note(c, "id3", s, noAC, t0.Add(2*time.Hour))
	if s != now || why != ByRetry || n.WithoutSoC != 0 {
		t.Fatalf("retry %s (%s), then WithoutSoC %d", s, why, n.WithoutSoC)
	}
	if s, why := Choose("", &n, For(false, Order)); s != noNe || why != ByCharged {
		t.Fatalf("after the failed retry: %s (%s)", s, why)
	}
}

func TestFor(t *testing.T) {
	everything := []string{idOn, noNe, end, x1, now}
	for _, tc := range []struct {
		name      string
		vw        bool
		available []string
		want      []string
	}{
		{"VW group: x1-then-pwm after deliver-now", true, everything, []string{now, x1, noNe, end}},
		{"another maker: no-negotiation after deliver-now", false, everything, []string{now, noNe, x1, end}},
		{"VW group without write_pwm", true, []string{now, end, noNe}, []string{now, noNe, end}},
		{"another maker without write_pwm", false, []string{now, end, noNe}, []string{now, noNe, end}},
		{"nothing", false, nil, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := For(tc.vw, tc.available); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("For = %v, want %v", got, tc.want)
			}
		})
	}
	if got := SoCOnly([]string{now, noNe, x1, end, idOn}); !reflect.DeepEqual(got, []string{now, x1, end}) {
		t.Fatalf("SoCOnly = %v", got)
	}
	if !BeforeV2G(noNe) || !BeforeV2G(idOn) || BeforeV2G(now) || BeforeV2G(x1) || BeforeV2G(end) {
		t.Fatal("BeforeV2G")
	}
	if !Known(idOn) || Known("cp-off") {
		t.Fatal("Known")
	}
}

func TestChoose(t *testing.T) {
	all := Order
	noX1 := []string{now, end, noNe}
	other := For(false, Order)
	otherNoX1 := For(false, noX1)
	for _, tc := range []struct {
		name      string
		pin       string
		car       *Car
		available []string
		want, why string
	}{
		{"new car", "", nil, all, now, ByNew},
		{"new car, nothing available", "", nil, nil, now, ByNew},
		{"pin wins over a success", end, car(now, ac), all, end, ByPin},
		{"pin of a new car", noNe, nil, all, noNe, ByPin},
		{"charged stays", "", car(now, ac, now, ac), all, now, ByCharged},
		{"charged once, failed once: kept", "", car(now, ac, now, noAC), all, now, ByCharged},
		{"charged, then failed twice: demoted", "", car(now, ac, now, noAC, now, noAC), all, x1, ByNext},
		{"failed once: the next", "", car(now, noAC), all, x1, ByNext},
		{"failed once, x1 off: the next", "", car(now, noAC), noX1, end, ByNext},
		{"not observed is no failure", "", car(now, nObs), all, now, ByNext},
		{"failure then not observed still failed", "", car(now, noAC, now, nObs), all, x1, ByNext},
		{"the one that charged after failures", "", car(now, noAC, x1, ac), all, x1, ByCharged},
		{"the most recent success", "", car(end, ac, x1, ac), all, x1, ByCharged},
		{"all failed once: retry the first", "", car(now, noAC, x1, noAC, end, noAC, noNe, noAC), all, now, ByNext},
		{"first failed twice: retry the second", "", car(now, noAC, now, noAC, x1, noAC, end, noAC, noNe, noAC), all, x1, ByNext},
		{"every one failed twice: start over", "", car(now, noAC, now, noAC, x1, noAC, x1, noAC, end, noAC, end, noAC, noNe, noAC, noNe, noAC), all, now, ByStartOver},
		{"a success beyond the available is ignored", "", car(now, noAC, x1, ac), noX1, end, ByNext},
		// Another maker than VW group: no-negotiation right after deliver-now.
		{"another maker, new", "", nil, other, now, ByNew},
		{"another maker, failed once: no-negotiation", "", car(now, noAC), other, noNe, ByNext},
		{"another maker without write_pwm, failed once: no-negotiation", "", car(now, noAC), otherNoX1, noNe, ByNext},
		{"another maker, no-negotiation charged: kept", "", car(now, noAC, noNe, ac), other, noNe, ByCharged},
		{"another maker, no-negotiation failed too: x1-then-pwm", "", car(now, noAC, noNe, noAC), other, x1, ByNext},
		{"another maker, not observed: deliver-now again", "", car(now, nObs), other, now, ByNext},
		{"identify-only only by a pin", idOn, car(now, ac), other, idOn, ByPin},
		{"identify-only never by itself", "", car(now, noAC, noNe, noAC, x1, noAC, end, noAC), other, now, ByNext},
		// No-negotiation charges but gives no SoC: every RetryAfter plug-ins
		// a SoC strategy that has not failed twice is tried once again.
		{"no SoC 9 times: kept", "", withoutSoC(car(now, noAC), RetryAfter-1), other, noNe, ByCharged},
		{"no SoC 10 times: deliver-now again", "", withoutSoC(car(now, noAC), RetryAfter), other, now, ByRetry},
		{"deliver-now failed twice: x1-then-pwm", "", withoutSoC(car(now, noAC, now, noAC), RetryAfter), other, x1, ByRetry},
		{"every SoC strategy failed twice: no retry", "", withoutSoC(car(now, noAC, now, noAC, x1, noAC, x1, noAC, end, noAC, end, noAC), RetryAfter), other, noNe, ByCharged},
		{"a pin is not retried", noNe, withoutSoC(car(now, noAC), RetryAfter), other, noNe, ByPin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, why := Choose(tc.pin, tc.car, tc.available)
			if s != tc.want || why != tc.why {
				t.Fatalf("Choose = %q (%s), want %q (%s)", s, why, tc.want, tc.why)
			}
		})
	}
}

func TestNoteBoundsAndCopies(t *testing.T) {
	var c *Car
	for i := range MaxOutcomes + 3 {
		o := noAC
		if i == MaxOutcomes+2 {
			o = ac
		}
		var before []string
		if c != nil {
			before = append(before, c.Tried[0].Outcomes...)
		}
		n := Note(c, "ioniq", now, o, t0.Add(time.Duration(i)*time.Second))
		if c != nil && !reflect.DeepEqual(c.Tried[0].Outcomes, before) {
			t.Fatalf("Note changed the car it was given")
		}
		c = &n
	}
	want := Car{ID: "ioniq", Tried: []Tried{{Strategy: now, Outcomes: []string{noAC, noAC, noAC, noAC, noAC, noAC, noAC, ac}, Last: t0.Add(10 * time.Second)}}}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("car = %+v, want %+v", *c, want)
	}
}

func TestKey(t *testing.T) {
	s := &record.Session{}
	if k := Key(s); k != "" {
		t.Fatalf("Key of nothing = %q", k)
	}
	s.EVCCID = &record.EVCCID{Hex: "007dfa010203"}
	if k := Key(s); k != "007dfa010203" {
		t.Fatalf("Key by EVCCID = %q", k)
	}
	s.Vehicle = &record.Vehicle{ID: "id3", Name: "ID.3"}
	if k := Key(s); k != "id3" {
		t.Fatalf("Key by vehicle = %q", k)
	}
}

func TestMemoryRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	m, err := Open(path)
	if err != nil || len(m.Cars()) != 0 {
		t.Fatalf("Open of no file = %v, %v", m.Cars(), err)
	}
	if s, why := m.Choose("id3", "", Order); s != now || why != ByNew {
		t.Fatalf("new car: %q %s", s, why)
	}
	m.Note("id3", now, noAC, t0)
	m.Note("ioniq", now, ac, t0.Add(time.Minute))
	if s, _ := m.Choose("id3", "", Order); s != x1 {
		t.Fatalf("after a failure: %q", s)
	}
	m.Note("id3", x1, ac, t0.Add(2*time.Minute))
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Car{
		{ID: "ioniq", Tried: []Tried{{Strategy: now, Outcomes: []string{ac}, Last: t0.Add(time.Minute)}}},
		{ID: "id3", Tried: []Tried{{Strategy: now, Outcomes: []string{noAC}, Last: t0}, {Strategy: x1, Outcomes: []string{ac}, Last: t0.Add(2 * time.Minute)}}},
	}
	if got := m2.Cars(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart: %+v, want %+v", got, want)
	}
	if s, why := m2.Choose("id3", "", Order); s != x1 || why != ByCharged {
		t.Fatalf("after a restart: %q %s", s, why)
	}
	if !m2.Forget("ioniq") || m2.Forget("ioniq") {
		t.Fatal("Forget")
	}
	if _, ok := m2.Car("ioniq"); ok {
		t.Fatal("forgotten car still there")
	}
}

func TestMemoryRefuses(t *testing.T) {
	m, _ := Open("")
	for _, c := range []struct{ id, s, o string }{
		{"", now, ac}, {string(make([]byte, 65)), now, ac}, {"a", "cp-off", ac}, {"a", now, "maybe"},
	} {
		if m.Note(c.id, c.s, c.o, t0) {
			t.Fatalf("Note(%q, %q, %q) remembered", c.id, c.s, c.o)
		}
	}
	if len(m.Cars()) != 0 {
		t.Fatal("something remembered")
	}
}

func TestMemoryBound(t *testing.T) {
	m, _ := Open("")
	for i := range MaxCars + 5 {
		m.Note(fmt.Sprintf("car%d", i), now, ac, t0)
	}
	cars := m.Cars()
	if len(cars) != MaxCars || cars[0].ID != "car5" || cars[MaxCars-1].ID != fmt.Sprintf("car%d", MaxCars+4) {
		t.Fatalf("%d cars, first %q", len(cars), cars[0].ID)
	}
	// A car noted again becomes the most recent and is kept; a new one
	// pushes the least recent (car6) out.
	m.Note("car5", x1, noAC, t0)
	m.Note("new", now, ac, t0)
	cars = m.Cars()
	if cars[0].ID != "car7" || cars[MaxCars-2].ID != "car5" {
		t.Fatalf("first %q, before last %q", cars[0].ID, cars[MaxCars-2].ID)
	}
}

func TestMemoryCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":    "{cars",
		"version":     `{"version":2,"cars":[]}`,
		"empty ID":    `{"version":1,"cars":[{"id":"","tried":[]}]}`,
		"repeated ID": `{"version":1,"cars":[{"id":"a","tried":[]},{"id":"a","tried":[]}]}`,
		"unknown":     `{"version":1,"cars":[{"id":"a","tried":[{"strategy":"cp-off","outcomes":[]}]}]}`,
		"repeated":    `{"version":1,"cars":[{"id":"a","tried":[{"strategy":"deliver-now","outcomes":[]},{"strategy":"deliver-now","outcomes":[]}]}]}`,
		"outcome":     `{"version":1,"cars":[{"id":"a","tried":[{"strategy":"deliver-now","outcomes":["maybe"]}]}]}`,
		"negative":    `{"version":1,"cars":[{"id":"a","tried":[],"without_soc":-1}]}`,
		"too many":    `{"version":1,"cars":[{"id":"a","tried":[{"strategy":"deliver-now","outcomes":["no_ac","no_ac","no_ac","no_ac","no_ac","no_ac","no_ac","no_ac","no_ac"]}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), File)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := Open(path)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrFormat) || ce.Path != path || ce.Aside != path+".corrupt" {
				t.Fatalf("Open = %v", err)
			}
			if len(m.Cars()) != 0 {
				t.Fatalf("cars %v", m.Cars())
			}
			if b, _ := os.ReadFile(path + ".corrupt"); string(b) != content {
				t.Fatalf("aside %q", b)
			}
			if b, _ := os.ReadFile(path); string(b) != "{\n \"version\": 1,\n \"cars\": []\n}\n" {
				t.Fatalf("fresh file %q", b)
			}
			if _, err := Open(path); err != nil {
				t.Fatalf("the fresh file: %v", err)
			}
		})
	}
}

// TestMemoryKeepsWithoutSoC: the count of plug-ins without a SoC
// survives a restart, so the retry comes on time.
func TestMemoryKeepsWithoutSoC(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m.Note("kona", now, noAC, t0)
	for range RetryAfter {
		m.Note("kona", noNe, ac, t0)
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, why := m2.Choose("kona", "", For(false, Order)); s != now || why != ByRetry || m2.Cars()[0].WithoutSoC != RetryAfter {
		t.Fatalf("after a restart: %s (%s), %+v", s, why, m2.Cars())
	}
}

func TestMemoryTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	if err := os.WriteFile(path, make([]byte, maxFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	var ce *CorruptError
	if !errors.As(err, &ce) || err.Error() != fmt.Sprintf("the handovers remembered in %s are damaged (not a file of remembered handovers: larger than 1048576 bytes): kept as %s.corrupt, starting afresh; each car tries its strategies again from deliver-now", path, path) {
		t.Fatalf("Open = %v", err)
	}
}
