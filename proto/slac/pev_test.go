package slac_test

import (
	"errors"
	"testing"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/slac"
)

// TestPEVNoCharger: a car alone on the cable gives up after sounding.
func TestPEVNoCharger(t *testing.T) {
	p := slac.NewPEV(slac.PEVConfig{MAC: pevMAC}, t0)
	only[*homeplug.SlacParmReq](t, p.Tick(t0))
	cnf := encode(pevMAC, evseMAC, &homeplug.SlacParmCnf{MSoundTarget: homeplug.BroadcastMAC, NumSounds: 10, TimeOut: 6, RespType: 1, ForwardingSTA: pevMAC, RunID: func() homeplug.RunID { r, _ := p.Result(); return r.RunID }()})
	p.Handle(t0.Add(ms(1)), cnf)
	sounds := 0
	for !p.Done() {
		dl, _ := p.Deadline()
		for _, f := range decoded(t, p.Tick(dl)) {
			if f.MMType == homeplug.CMMnbcSoundInd {
				sounds++
			}
		}
	}
	if sounds != 10 || !errors.Is(p.Err(), slac.ErrNoMatch) {
		t.Fatalf("%d sounds, err %v", sounds, p.Err())
	}
}
