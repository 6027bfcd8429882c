package daemon

import (
	"sync"
	"time"

	"github.com/ccslink/ccslink/daemon/charger"
	"github.com/ccslink/ccslink/daemon/output/metrics"
	"github.com/ccslink/ccslink/record"
)

// serving is the charger in service, to which the SmartEVSE's results go;
// it carries what the daemon counts across its chargers.
type serving struct {
	mu      sync.Mutex
	ch      *charger.Charger
	before  metrics.ServerCounts // of the chargers before
	plugIns uint64               // numbered by the chargers before
}

// start makes ch the charger in service.
func (s *serving) start(ch *charger.Charger) {
	s.mu.Lock()
	s.ch = ch
	s.mu.Unlock()
}

// stop retires the charger in service, once its Run has returned.
func (s *serving) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		return
	}
	s.before = s.sum()
	s.plugIns = s.ch.PlugIns()
	s.ch = nil
}

// next is the number the next charger's plug-ins continue from.
func (s *serving) next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plugIns
}

// Report hands e to the charger in service; between two, a result is
// dropped: the plug-in it belonged to has ended.
func (s *serving) Report(e record.Event) {
	s.mu.Lock()
	ch := s.ch
	s.mu.Unlock()
	if ch != nil {
		ch.Report(e)
	}
}

// Plugged hands a report of the control pilot to the charger in service.
func (s *serving) Plugged(plugged bool, at time.Time) {
	s.mu.Lock()
	ch := s.ch
	s.mu.Unlock()
	if ch != nil {
		ch.Plugged(plugged, at)
	}
}

// counts are the SDP and V2G servers' counters, over every charger.
func (s *serving) counts() metrics.ServerCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum()
}

func (s *serving) sum() metrics.ServerCounts {
	c := s.before
	if s.ch != nil {
		st := s.ch.SDPStats()
		c.SDPAnswered += st.Answered
		c.SDPLimited += st.Limited
		c.SDPDropped += st.Dropped
		c.V2GRefused += s.ch.V2GRefused()
	}
	return c
}
