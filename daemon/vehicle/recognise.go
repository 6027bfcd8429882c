package vehicle

import (
	"sync"
	"time"

	"github.com/ccslink/ccslink/record"
)

// Known is one of the owner's cars, from the configuration.
type Known struct {
	Name, ID   string
	Patterns   []Pattern
	CapacityWh int    // 0: not given
	Strategy   string // the pinned handover strategy; "" = none
}

// Pattern matches a MAC where Mask is set: Value & Mask == MAC & Mask.
type Pattern struct{ Value, Mask MAC }

// Match reports whether m fits the pattern.
func (p Pattern) Match(m MAC) bool {
	for i := range m {
		if m[i]&p.Mask[i] != p.Value[i]&p.Mask[i] {
			return false
		}
	}
	return true
}

// Recogniser tells which car a plug-in is: by the owner's cars list, by a
// fixed MAC seen before, or by the fingerprint of a car remembered whose
// MAC changes. Not safe for concurrent use.
type Recogniser struct {
	known []Known
	mem   *Memory
	bg    *saver // nil: Recognise saves before it returns
}

// New returns a Recogniser of the cars known and remembered in mem.
func New(known []Known, mem *Memory) *Recogniser {
	if mem == nil {
		mem = &Memory{}
	}
	return &Recogniser{known: known, mem: mem}
}

// save writes the memory, or hands it to the background saver.
func (r *Recogniser) save() error {
	if r.bg == nil || r.mem.path == "" {
		return r.mem.Save()
	}
	data, err := r.mem.snapshot()
	if err != nil {
		return err
	}
	r.bg.put(data)
	return nil
}

// SaveInBackground makes Recognise leave the writing of the memory to a
// goroutine of its own (a synced write on a Pi's SD card takes
// milliseconds the car's SoC should not wait for); it reports a failed
// write to onErr. stop writes what is pending and ends the goroutine.
func (r *Recogniser) SaveInBackground(onErr func(error)) (stop func()) {
	b := &saver{path: r.mem.path, wake: make(chan struct{}, 1), done: make(chan struct{}), onErr: onErr}
	r.bg = b
	go b.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.stopped = true
			close(b.wake)
			b.mu.Unlock()
			<-b.done
		})
	}
}

// saver writes the newest snapshot of a memory, one write at a time.
type saver struct {
	path    string
	mu      sync.Mutex
	next    []byte // nil: nothing pending
	stopped bool
	wake    chan struct{}
	done    chan struct{}
	onErr   func(error)
}

func (b *saver) put(data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped { // a car recognised after stop: written at once
		if err := writeFile(b.path, data); err != nil && b.onErr != nil {
			b.onErr(err)
		}
		return
	}
	b.next = data
	select {
	case b.wake <- struct{}{}:
	default: // a write is due already; it takes the newest
	}
}

func (b *saver) run() {
	defer close(b.done)
	for range b.wake {
		b.write()
	}
	b.write() // what came in with the stop
}

func (b *saver) write() {
	b.mu.Lock()
	data := b.next
	b.next = nil
	b.mu.Unlock()
	if data == nil {
		return
	}
	if err := writeFile(b.path, data); err != nil && b.onErr != nil {
		b.onErr(err)
	}
}

// Memory returns the cars remembered.
func (r *Recogniser) Memory() *Memory { return r.mem }

// Known returns the owner's car with this ID.
func (r *Recogniser) Known(id string) (Known, bool) {
	for _, k := range r.known {
		if k.ID == id {
			return k, true
		}
	}
	return Known{}, false
}

// identity is the MAC a car is known by: its EVCCID when it is MAC-shaped
// (what the SmartEVSE and evcc see), else its modem's MAC from SLAC.
func identity(s *record.Session) (MAC, bool) {
	if m, ok := ParseMAC(s.EVCCIDHex()); ok {
		return m, true
	}
	return ParseMAC(s.EVMAC)
}

// Recognise tells which car the plug-in s is, at its harvest (the car's
// first ChargeParameterDiscoveryReq, when its fingerprint is complete),
// and remembers it; a car with a random MAC that never reached its harvest
// is told as new and not remembered. ok is false when the car gave nothing to know it by
// (no MAC). The error says that the memory could not be saved: the car
// is recognised all the same.
func (r *Recogniser) Recognise(s *record.Session, at time.Time) (v record.Vehicle, ok bool, err error) {
	mac, macOK := identity(s)
	slac, slacOK := ParseMAC(s.EVMAC)
	if !macOK && !slacOK {
		return record.Vehicle{}, false, nil
	}
	fp := Of(s, mac, macOK)
	macText := ""
	if macOK {
		macText = mac.String()
	}
	for _, k := range r.known {
		for _, p := range k.Patterns {
			if macOK && p.Match(mac) || slacOK && p.Match(slac) {
				c := Remembered{ID: k.ID, Name: k.Name, Random: macOK && mac.Random()}
				if i := r.mem.find(k.ID); i >= 0 {
					c = r.mem.cars[i]
					c.Name = k.Name
				}
				r.mem.seen(c, macText, fp, at)
				return record.Vehicle{Name: k.Name, ID: k.ID, Confidence: 1, By: record.ByConfig}, true, r.save()
			}
		}
	}
	if !macOK {
		mac, macText = slac, slac.String()
	}
	if !mac.Random() {
		c := Remembered{ID: hexMAC(mac), Name: makerName(mac)}
		if i := r.mem.byMAC(macText); i >= 0 {
			c = r.mem.cars[i]
		}
		r.mem.seen(c, macText, fp, at)
		return record.Vehicle{Name: c.Name, ID: c.ID, Confidence: 1, By: record.ByMAC}, true, r.save()
	}
	best, bestSim := -1, 0.0
	for i, c := range r.mem.cars {
		if !c.Random {
			continue // a car with a fixed MAC is known by it, never by a new one
		}
		if sim := Similarity(fp, c.Fingerprint); sim >= Threshold && sim > bestSim {
			best, bestSim = i, sim
		}
	}
	if best >= 0 {
		c := r.mem.cars[best]
		r.mem.seen(c, macText, fp, at)
		return record.Vehicle{Name: c.Name, ID: c.ID, Confidence: bestSim, By: record.ByFingerprint}, true, r.save()
	}
	c := Remembered{ID: r.newID(mac), Name: makerName(mac), Random: true}
	if s.Phases.FirstCPD.IsZero() {
		// No harvest: too little to know the car by next time.
		return record.Vehicle{Name: c.Name, ID: c.ID, Confidence: 0, By: record.ByNew}, true, nil
	}
	r.mem.seen(c, macText, fp, at)
	return record.Vehicle{Name: c.Name, ID: c.ID, Confidence: 0, By: record.ByNew}, true, r.save()
}

// newID names a car first seen with mac: the MAC in hex, as the EVCCID of
// its first plug-in reads (a capacity_fallback entry for it applies).
func (r *Recogniser) newID(mac MAC) string {
	id := hexMAC(mac)
	if r.mem.find(id) < 0 {
		return id
	}
	for n := 2; ; n++ { // the same random MAC drawn twice
		if s := id + "-" + itoa(n); r.mem.find(s) < 0 {
			return s
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func hexMAC(m MAC) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 12)
	for i, x := range m {
		b[2*i], b[2*i+1] = hexd[x>>4], hexd[x&15]
	}
	return string(b)
}

// makerName is a car's name from its MAC's registered block: the maker,
// or the supplier of its charger; "" when the block is none of them.
func makerName(m MAC) string {
	mk, ok := MakerOf(m)
	switch {
	case !ok:
		return ""
	case mk.Role == RoleSupplier:
		return "car with a " + mk.Name + " charger"
	}
	return mk.Name
}
