package vehicle_test

import (
	"math"
	"testing"

	"github.com/ccslink/ccslink/daemon/vehicle"
	"github.com/ccslink/ccslink/record"
)

// BenchmarkRecognise is the charger's cost at the harvest of a car with a
// random MAC, among MaxRemembered cars remembered (in memory, no disk).
func BenchmarkRecognise(b *testing.B) {
	r := vehicle.New(nil, nil)
	base := &record.Session{Protocol: "iso2", EVCCID: &record.EVCCID{Raw: []byte{0x00, 0x7d, 0xfa, 0, 0, 0}, Hex: "007dfa000000"},
		Offered:     []record.AppProtocol{{Namespace: "urn:din:70121:2012:MsgDef", Major: 2, SchemaID: 1, Priority: 2}, {Namespace: "urn:iso:15118:2:2013:MsgDef", Major: 2, Priority: 1}},
		MaxCurrentA: record.Num{Value: 500, Known: true}}
	base.Phases.FirstCPD = day
	for i := range vehicle.MaxRemembered {
		s := base.Clone()
		s.EVCCID = &record.EVCCID{Raw: []byte{0x00, 0x7d, 0xfa, 1, byte(i >> 8), byte(i)}, Hex: "007dfa01" + hexOf([]byte{byte(i >> 8), byte(i)})}
		s.MaxVoltageV = record.Num{Value: 100 * math.Pow(1.05, float64(i)), Known: true}
		r.Recognise(s, day)
	}
	s := base.Clone()
	s.MaxVoltageV = record.Num{Value: 100 * math.Pow(1.05, 50), Known: true} // the 51st car, a new MAC
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.EVCCID = &record.EVCCID{Raw: []byte{0x00, 0x7d, 0xfa, 2, byte(i >> 8), byte(i)}, Hex: "007dfa02" + hexOf([]byte{byte(i >> 8), byte(i)})}
		v, _, _ := r.Recognise(s, day)
		if v.By != record.ByFingerprint {
			b.Fatalf("%+v", v)
		}
	}
}
