package modemsim

import (
	"github.com/ccslink/ccslink/proto/cp"
	"github.com/ccslink/ccslink/proto/homeplug"
)

// LeaveAVLN makes the modem leave its AVLN as a car's modem does when the
// control pilot goes off (ISO 15118-3: a new matching is needed to talk
// again): it forgets its key and stays on the line.
func (m *Modem) LeaveAVLN() {
	m.line.mu.Lock()
	defer m.line.mu.Unlock()
	m.st.keyed, m.st.nmk, m.st.nid = false, homeplug.NMK{}, homeplug.NID{}
}

// FollowPilot makes m follow line: whenever the charger switches the
// pilot off (a SmartEVSE's MODEM_REQUEST and its "virtual re-plug"), the
// modem leaves its AVLN. cancel stops following.
func FollowPilot(line cp.Line, m *Modem) (cancel func()) {
	return line.Watch(func(c cp.Change) {
		if !c.ByCar && c.Pilot.Off {
			m.LeaveAVLN()
		}
	})
}
