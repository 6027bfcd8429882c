package slac_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// t0 is the start of every simulated session.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var (
	evseMAC  = homeplug.MAC{0x02, 0, 0, 0, 0xe5, 0x01}
	evseMAC2 = homeplug.MAC{0x02, 0, 0, 0, 0xe5, 0x02}
	pevMAC   = homeplug.MAC{0x02, 0, 0, 0, 0xca, 0x01}
	pevMAC2  = homeplug.MAC{0x02, 0, 0, 0, 0xca, 0x02}
)

// host is one station of the simulation: a state machine and its modem.
type host struct {
	name  string
	mac   homeplug.MAC
	m     slac.Machine
	modem *modem
}

// modem is a tiny stand-in for a QCA7000: it answers CM_SET_KEY and
// VS_PL_LNK_STATUS and measures the sounds it hears.
type modem struct {
	mac homeplug.MAC
	nmk homeplug.NMK
	// atten returns the attenuation this modem measures for a sounder; nil: no profiles.
	atten func(sounder homeplug.MAC) byte
}

// wire is one frame on the simulated line, as a test sees it.
type wire struct {
	at    time.Duration
	from  string
	src   homeplug.MAC
	dst   homeplug.MAC
	typ   homeplug.MMType
	frame []byte
}

func (w wire) String() string { return fmt.Sprintf("%v %s %v", w.at, w.from, w.typ) }

type delivery struct {
	at    time.Time
	seq   int
	to    *host
	modem bool // to the host's modem, not the host
	from  string
	frame []byte
}

// sim is a discrete-event simulation of hosts on one cable: no goroutines,
// no sleeps, exact timing.
type sim struct {
	t            *testing.T
	now          time.Time
	hosts        []*host
	queue        []delivery
	seq          int
	log          []wire
	profileDelay time.Duration
	// drop, when set, loses frames on the line (not between host and modem).
	drop func(w wire) bool
}

func newSim(t *testing.T) *sim {
	return &sim{t: t, now: t0, profileDelay: time.Millisecond}
}

func (s *sim) add(name string, mac homeplug.MAC, m slac.Machine, atten func(homeplug.MAC) byte) *host {
	h := &host{name: name, mac: mac, m: m, modem: &modem{mac: homeplug.MAC{0x00, 0xb0, 0x52, 0, byte(len(s.hosts)), 1}, atten: atten}}
	s.hosts = append(s.hosts, h)
	return h
}

func (s *sim) enqueue(d delivery) {
	d.seq = s.seq
	s.seq++
	i, _ := slices.BinarySearchFunc(s.queue, d, func(a, b delivery) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	s.queue = slices.Insert(s.queue, i, d)
}

func (s *sim) record(from string, frame []byte) wire {
	h, _, err := homeplug.DecodeHeader(frame)
	if err != nil {
		s.t.Fatalf("%s sent a bad frame: %v", from, err)
	}
	w := wire{at: s.now.Sub(t0), from: from, src: h.Src, dst: h.Dst, typ: h.MMType, frame: slices.Clone(frame)}
	s.log = append(s.log, w)
	return w
}

// send puts the frames host h sent on their way.
func (s *sim) send(h *host, out [][]byte) {
	for _, f := range out {
		w := s.record(h.name, f)
		if w.dst == homeplug.LocalModemMAC || w.dst == h.modem.mac {
			s.enqueue(delivery{at: s.now, to: h, modem: true, from: h.name, frame: w.frame})
			continue
		}
		if s.drop != nil && s.drop(w) {
			continue
		}
		for _, o := range s.hosts {
			if o == h || (w.dst != o.mac && !w.dst.IsGroup()) {
				continue
			}
			s.enqueue(delivery{at: s.now, to: o, from: h.name, frame: w.frame})
			if w.typ == homeplug.CMMnbcSoundInd && o.modem.atten != nil {
				s.enqueue(delivery{at: s.now.Add(s.profileDelay), to: o, modem: true, from: h.name, frame: w.frame})
			}
		}
	}
}

// modemHandle plays the modem of h receiving frame.
func (s *sim) modemHandle(h *host, frame []byte) {
	md := h.modem
	hd, p, err := homeplug.DecodeHeader(frame)
	if err != nil {
		s.t.Fatal(err)
	}
	var out homeplug.Message
	switch hd.MMType {
	case homeplug.CMMnbcSoundInd:
		aag := make([]byte, homeplug.NumAttenGroups)
		for i := range aag {
			aag[i] = md.atten(hd.Src) + byte(i%3) // a little texture per group
		}
		out = &homeplug.AttenProfileInd{PEVMAC: hd.Src, AAG: aag}
	case homeplug.CMSetKeyReq:
		var req homeplug.SetKeyReq
		if err := req.DecodePayload(p); err != nil {
			s.t.Fatal(err)
		}
		md.nmk = req.NewKey
		out = &homeplug.SetKeyCnf{Result: 0x01}
	case homeplug.VSPlLnkStatusReq:
		st := uint8(homeplug.LinkDown)
		for _, o := range s.hosts {
			if o != h && o.modem.nmk == md.nmk && md.nmk != (homeplug.NMK{}) {
				st = homeplug.LinkUp
			}
		}
		out = &homeplug.PlLnkStatusCnf{LinkStatus: st}
	default:
		return
	}
	dst := h.mac
	if hd.MMType == homeplug.CMMnbcSoundInd {
		dst = homeplug.BroadcastMAC // QCA modems broadcast the profile to their host
	}
	f, err := homeplug.AppendFrame(nil, homeplug.NewHeader(dst, md.mac, out.MMType()), out)
	if err != nil {
		s.t.Fatal(err)
	}
	s.record(h.name+".modem", f)
	s.enqueue(delivery{at: s.now, to: h, from: h.name + ".modem", frame: f})
}

// run steps the simulation until every host is done or until limit.
func (s *sim) run(limit time.Duration) {
	end := s.now.Add(limit)
	for steps := 0; steps < 100000; steps++ {
		if len(s.queue) > 0 && !s.queue[0].at.After(s.now) {
			d := s.queue[0]
			s.queue = s.queue[1:]
			if d.modem {
				s.modemHandle(d.to, d.frame)
			} else {
				s.send(d.to, d.to.m.Handle(s.now, d.frame))
			}
			continue
		}
		next, ok := time.Time{}, false
		if len(s.queue) > 0 {
			next, ok = s.queue[0].at, true
		}
		for _, h := range s.hosts {
			if dl, has := h.m.Deadline(); has && (!ok || dl.Before(next)) {
				next, ok = dl, true
			}
		}
		if !ok || next.After(end) {
			return
		}
		if next.After(s.now) {
			s.now = next
		}
		for _, h := range s.hosts {
			if dl, has := h.m.Deadline(); has && !dl.After(s.now) {
				s.send(h, h.m.Tick(s.now))
			}
		}
	}
	s.t.Fatal("simulation does not settle")
}

// types returns "from TYPE" for every frame of the log.
func (s *sim) types() []string {
	var out []string
	for _, w := range s.log {
		out = append(out, w.from+" "+w.typ.String())
	}
	return out
}

func constAtten(db byte) func(homeplug.MAC) byte { return func(homeplug.MAC) byte { return db } }
