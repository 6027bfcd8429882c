package timeline

import (
	"fmt"

	"github.com/ccslink/ccslink/proto/homeplug"
)

// slacDir is who sends each SLAC message; modem messages have no direction.
func slacDir(t homeplug.MMType) Dir {
	switch t {
	case homeplug.CMSlacParmReq, homeplug.CMStartAttenCharInd, homeplug.CMMnbcSoundInd,
		homeplug.CMAttenCharRsp, homeplug.CMValidateReq, homeplug.CMSlacMatchReq:
		return CarToCharger
	case homeplug.CMSlacParmCnf, homeplug.CMAttenCharInd, homeplug.CMValidateCnf, homeplug.CMSlacMatchCnf:
		return ChargerToCar
	}
	return NoDir
}

// burst reports whether messages of type t come in a burst that one event counts.
func burst(t homeplug.MMType) bool {
	switch t {
	case homeplug.CMStartAttenCharInd, homeplug.CMMnbcSoundInd, homeplug.CMAttenProfileInd:
		return true
	}
	return false
}

// runID formats a RunID as hex and, when printable, as text ("TESLA EV").
func runID(r homeplug.RunID) []Field {
	f := []Field{{Name: "RunID", Value: r.String()}}
	txt := true
	for _, c := range r {
		if c < 0x20 || c > 0x7e {
			txt = false
		}
	}
	if txt {
		f = append(f, Field{Name: "RunIDText", Value: string(r[:])})
	}
	return f
}

// meanDB is the mean of the attenuation groups in dB, to 0.1 dB.
func meanDB(aag []byte) float64 {
	if len(aag) == 0 {
		return 0
	}
	s := 0
	for _, a := range aag {
		s += int(a)
	}
	return float64(s*10/len(aag)) / 10
}

// slacFields returns the key values of one HomePlug message.
func slacFields(f homeplug.Frame) []Field {
	switch m := f.Message.(type) {
	case *homeplug.SetKeyReq:
		return []Field{{Name: "NID", Value: m.NID.String()}, {Name: "KeyType", Value: int(m.KeyType)}}
	case *homeplug.SetKeyCnf:
		return []Field{{Name: "Result", Value: int(m.Result)}}
	case *homeplug.SlacParmReq:
		return append(runID(m.RunID), Field{Name: "SecurityType", Value: int(m.SecurityType)})
	case *homeplug.SlacParmCnf:
		return append(runID(m.RunID), Field{Name: "NumSounds", Value: int(m.NumSounds)},
			Field{Name: "TimeOut", Value: int(m.TimeOut) * 100, Unit: "ms"})
	case *homeplug.StartAttenCharInd:
		return append(runID(m.RunID), Field{Name: "NumSounds", Value: int(m.NumSounds)},
			Field{Name: "TimeOut", Value: int(m.TimeOut) * 100, Unit: "ms"})
	case *homeplug.MnbcSoundInd:
		return append(runID(m.RunID), Field{Name: "Cnt", Value: int(m.Cnt)})
	case *homeplug.AttenProfileInd:
		return []Field{{Name: "PEVMAC", Value: m.PEVMAC.String()}, {Name: "Groups", Value: len(m.AAG)},
			{Name: "Attenuation", Value: meanDB(m.AAG), Unit: "dB"}}
	case *homeplug.AttenCharInd:
		return append(runID(m.RunID), Field{Name: "SourceAddress", Value: m.SourceAddress.String()},
			Field{Name: "NumSounds", Value: int(m.NumSounds)}, Field{Name: "Groups", Value: len(m.AAG)},
			Field{Name: "Attenuation", Value: meanDB(m.AAG), Unit: "dB"})
	case *homeplug.AttenCharRsp:
		return append(runID(m.RunID), Field{Name: "Result", Value: int(m.Result)})
	case *homeplug.ValidateReq:
		return []Field{{Name: "SignalType", Value: int(m.SignalType)}, {Name: "Timer", Value: int(m.Timer)}, {Name: "Result", Value: int(m.Result)}}
	case *homeplug.ValidateCnf:
		return []Field{{Name: "SignalType", Value: int(m.SignalType)}, {Name: "ToggleNum", Value: int(m.ToggleNum)}, {Name: "Result", Value: int(m.Result)}}
	case *homeplug.SlacMatchReq:
		return append(runID(m.RunID), Field{Name: "PEVMAC", Value: m.PEVMAC.String()}, Field{Name: "EVSEMAC", Value: m.EVSEMAC.String()})
	case *homeplug.SlacMatchCnf:
		return append(runID(m.RunID), Field{Name: "PEVMAC", Value: m.PEVMAC.String()}, Field{Name: "EVSEMAC", Value: m.EVSEMAC.String()},
			Field{Name: "NID", Value: m.NID.String()})
	case *homeplug.SwVerCnf:
		return []Field{{Name: "Version", Value: m.Version}}
	case *homeplug.PlLnkStatusCnf:
		link := "down"
		if m.LinkStatus == homeplug.LinkUp {
			link = "up"
		}
		return []Field{{Name: "Link", Value: link}}
	case *homeplug.RsDevCnf:
		return []Field{{Name: "MStatus", Value: int(m.MStatus)}}
	case *homeplug.RawMessage:
		if f.FMI != 0 {
			return []Field{{Name: "Fragment", Value: fmt.Sprintf("0x%02x", f.FMI)}}
		}
	}
	return nil
}
