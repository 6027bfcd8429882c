package secc

import (
	"slices"
	"testing"
	"time"

	"github.com/ccslink/ccslink/proto/v2g/din"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
)

// With CableCheckTime and PreChargeTime the dc policy is as slow as a real
// DC charger. The harness sends a request every 50 ms: the 101st
// CableCheckReq comes 5 s after the first and is the first answered
// Finished; the PreChargeReq k comes (k-1)·50 ms after the first and is
// answered 380 V·(k-1)·50 ms/4 s, the target from the 81st on.
func TestDINDCPolicySlow(t *testing.T) {
	h := newHarness(t, Config{Policy: PolicyDC, CableCheckTime: 5 * time.Second, PreChargeTime: 4 * time.Second})
	dinSetup(t, h)
	if res, _ := h.din(ioniqCPD()); res.ChargeParameterDiscoveryRes.EVSEProcessing != din.EVSEProcessingFinished {
		t.Fatalf("CPD: %+v", res.ChargeParameterDiscoveryRes)
	}
	st := din.DC_EVStatusType{EVReady: true, EVRESSSOC: 60}
	ongoing := 0
	for {
		res, _ := h.din(din.BodyType{CableCheckReq: &din.CableCheckReqType{DC_EVStatus: st}})
		if r := res.CableCheckRes; r.ResponseCode != din.ResponseCodeOK {
			t.Fatalf("CableCheck %d: %+v", ongoing+1, r)
		}
		if res.CableCheckRes.EVSEProcessing == din.EVSEProcessingFinished {
			break
		}
		if ongoing++; ongoing > 200 {
			t.Fatal("CableCheck never Finished")
		}
	}
	if ongoing != 100 {
		t.Errorf("%d CableCheckReq answered Ongoing, want 100", ongoing)
	}
	var volts []float64
	for range 82 {
		res, _ := h.din(din.BodyType{PreChargeReq: &din.PreChargeReqType{DC_EVStatus: st, EVTargetVoltage: pvDIN(380, 0, din.UnitSymbolV), EVTargetCurrent: pvDIN(2, 0, din.UnitSymbolA)}})
		if res.PreChargeRes.ResponseCode != din.ResponseCodeOK {
			t.Fatalf("PreCharge: %+v", res.PreChargeRes)
		}
		volts = append(volts, dinValue(res.PreChargeRes.EVSEPresentVoltage))
	}
	// 380·k/80 V, rounded to the volt.
	for k, want := range map[int]float64{0: 0, 1: 5, 40: 190, 79: 375, 80: 380, 81: 380} {
		if volts[k] != want {
			t.Errorf("PreChargeRes %d: %v V, want %v (all: %v)", k+1, volts[k], want, volts)
		}
	}
	if res, _ := h.din(din.BodyType{PowerDeliveryReq: &din.PowerDeliveryReqType{ReadyToChargeState: true}}); res.PowerDeliveryRes.ResponseCode != din.ResponseCodeOK {
		t.Fatalf("PowerDelivery: %+v", res.PowerDeliveryRes)
	}
}

func TestISO2DCPolicySlow(t *testing.T) {
	h := newHarness(t, Config{Policy: PolicyDC, CableCheckTime: time.Second, PreChargeTime: 500 * time.Millisecond})
	iso2Setup(t, h)
	res, _ := h.iso2(iso2.BodyType{ChargeParameterDiscoveryReq: &iso2.ChargeParameterDiscoveryReqType{
		RequestedEnergyTransferMode: iso2.EnergyTransferModeDC_extended,
		DC_EVChargeParameter: &iso2.DC_EVChargeParameterType{DC_EVStatus: iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 54},
			EVMaximumCurrentLimit: pvISO(350, 0, iso2.UnitSymbolA), EVMaximumVoltageLimit: pvISO(460, 0, iso2.UnitSymbolV)},
	}})
	if res.ChargeParameterDiscoveryRes.EVSEProcessing != iso2.EVSEProcessingFinished {
		t.Fatalf("CPD: %+v", res.ChargeParameterDiscoveryRes)
	}
	st := iso2.DC_EVStatusType{EVReady: true, EVRESSSOC: 54}
	var procs []iso2.EVSEProcessingType
	for range 21 {
		res, _ := h.iso2(iso2.BodyType{CableCheckReq: &iso2.CableCheckReqType{DC_EVStatus: st}})
		procs = append(procs, res.CableCheckRes.EVSEProcessing)
	}
	// 1 s at 50 ms a request: the 21st is the first Finished.
	for i, p := range procs {
		if want := i == 20; (p == iso2.EVSEProcessingFinished) != want {
			t.Fatalf("CableCheckRes %d: %v (all %v)", i+1, p, procs)
		}
	}
	var volts []float64
	for range 11 {
		res, _ := h.iso2(iso2.BodyType{PreChargeReq: &iso2.PreChargeReqType{DC_EVStatus: st, EVTargetVoltage: pvISO(400, 0, iso2.UnitSymbolV), EVTargetCurrent: pvISO(2, 0, iso2.UnitSymbolA)}})
		volts = append(volts, iso2Value(res.PreChargeRes.EVSEPresentVoltage))
	}
	want := []float64{0, 40, 80, 120, 160, 200, 240, 280, 320, 360, 400}
	if !slices.Equal(volts, want) {
		t.Errorf("PreChargeRes voltages %v, want %v", volts, want)
	}
}
