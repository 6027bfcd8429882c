package secc

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/evcc"

	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2g/iso20/dc"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/record"
)

// Where iso20Car's and iso20DCCar's requests (and their answers) stand.
const (
	iSelection     = 5
	iSchedule      = 7
	iACStart       = 8 // PowerDelivery(Start) of AC
	iACLoop        = 9 // AC's first loop
	iDCStart       = 13
	iDCLoop        = 14
	schedTupleID   = 1
	schedDurationS = 86400
)

// schedProfile is the EVPowerProfile of a car that follows tuple id at power.
func schedProfile(id uint32, power iso20.RationalNumberType) *iso20.EVPowerProfileType {
	return &iso20.EVPowerProfileType{TimeAnchor: uint64(t0.Unix()),
		Scheduled_EVPPTControlMode: &iso20.Scheduled_EVPPTControlModeType{SelectedScheduleTupleID: id},
		EVPowerProfileEntries:      iso20.EVPowerProfileEntryListType{EVPowerProfileEntry: []iso20.PowerScheduleEntryType{{Duration: schedDurationS, Power: power}}}}
}

// iso20ScheduledCar is iso20Car in scheduled mode: parameter set 2, a
// scheduled ScheduleExchangeReq, the offered tuple selected in
// PowerDelivery(Start), the loops in Scheduled_AC_CLReqControlMode.
func iso20ScheduledCar(sid []byte, loops int) []iso20Req {
	q := iso20Car(sid, loops)
	q[iSelection].common.ServiceSelectionReq.SelectedEnergyTransferService.ParameterSetID = 2
	q[iSchedule].common.ScheduleExchangeReq.Dynamic_SEReqControlMode = nil
	q[iSchedule].common.ScheduleExchangeReq.Scheduled_SEReqControlMode = &iso20.Scheduled_SEReqControlModeType{EVTargetEnergyRequest: &iso20.RationalNumberType{Value: 30, Exponent: 3}}
	q[iACStart].common.PowerDeliveryReq.EVPowerProfile = schedProfile(schedTupleID, rat(11, 3))
	for i := range loops {
		l := q[iACLoop+i].ac.AC_ChargeLoopReq
		l.Dynamic_AC_CLReqControlMode = nil
		l.Scheduled_AC_CLReqControlMode = &ac.Scheduled_AC_CLReqControlModeType{EVTargetEnergyRequest: &iso20.RationalNumberType{Value: 30, Exponent: 3},
			EVMaximumChargePower: &iso20.RationalNumberType{Value: 11, Exponent: 3}, EVPresentActivePower: rat(11, 3)}
	}
	return q
}

// scheduledRes is the ScheduleExchangeRes of scheduled mode: one tuple
// (ID 1), power for 24 h from the request's time, no price.
func scheduledRes(sid []byte, power iso20.RationalNumberType) iso20Req {
	return iso20Req{typ: v2gtp.TypeISO20CommonMessages, common: &iso20.Document{ScheduleExchangeRes: &iso20.ScheduleExchangeResType{
		Header: hdr(sid), ResponseCode: iso20.ResponseCodeOK, EVSEProcessing: iso20.ProcessingFinished,
		Scheduled_SEResControlMode: &iso20.Scheduled_SEResControlModeType{ScheduleTuple: []iso20.ScheduleTupleType{{ScheduleTupleID: 1,
			ChargingSchedule: iso20.ChargingScheduleType{PowerSchedule: iso20.PowerScheduleType{TimeAnchor: uint64(t0.Unix()),
				PowerScheduleEntries: iso20.PowerScheduleEntryListType{PowerScheduleEntry: []iso20.PowerScheduleEntryType{{Duration: 86400, Power: power}}}}}}}}}}}
}

// wantISO20Scheduled is what the charger owes iso20ScheduledCar under
// the ac policy: wantISO20 but for the schedule and the loops.
func wantISO20Scheduled(sid []byte, loops int) []iso20Req {
	q := wantISO20(sid, loops)
	q[iSchedule] = scheduledRes(sid, rat(22080, 0))
	for i := range loops {
		q[iACLoop+i] = iso20Req{typ: v2gtp.TypeISO20AC, ac: &ac.Document{AC_ChargeLoopRes: &ac.AC_ChargeLoopResType{Header: hdr(sid), ResponseCode: iso20.ResponseCodeOK,
			Scheduled_AC_CLResControlMode: &ac.Scheduled_AC_CLResControlModeType{EVSETargetActivePower: &iso20.RationalNumberType{Value: 22080}}}}}
	}
	return q
}

// TestISO20ScheduledACSession plays a whole -20 AC session in scheduled
// mode under the ac policy, every answer compared byte for byte with one
// marshalled by hand; the SoC of every loop reaches the record as in
// dynamic mode.
func TestISO20ScheduledACSession(t *testing.T) {
	const loops = 5
	h := newHarness(t, iso20Config(PolicyAC))
	h.sap(offerISO20)
	playISO20(t, h, iso20ScheduledCar(testSID[:], loops), wantISO20Scheduled(testSID[:], loops))
	var rec record.Session
	var socs []int
	for _, e := range h.events {
		rec.Apply(e)
		if e.Kind == record.KindValues && e.Message == message.AC_ChargeLoopReq {
			socs = append(socs, *e.Values.SoC)
			if *e.Values.EnergyRequestWh != 30000 || *e.Values.MaxPowerW != 11000 {
				t.Errorf("loop values %+v", e.Values)
			}
		}
	}
	if len(socs) != loops || socs[0] != 40 || socs[loops-1] != 44 {
		t.Fatalf("loop SoCs %v", socs)
	}
	if d := rec.Display; d == nil || d.Loops != loops || d.SoCUpdateCount != loops || d.Mode != "scheduled" || rec.SoC.Value != 44 || rec.EnergyRequestWh.Value != 30000 {
		t.Fatalf("record SoC %+v display %+v", rec.SoC, d)
	}
}

// playISO20 plays reqs in h's session, each answer compared byte for byte
// with want's, and requires the session to end.
func playISO20(t *testing.T, h *harness, reqs, want []iso20Req) {
	t.Helper()
	for i, q := range reqs {
		typ, got, step, err := h.send20(q.typ, q.marshal(t))
		if err != nil {
			t.Fatalf("request %d (%v): %v", i, step.Request, err)
		}
		if w := want[i].marshal(t); typ != q.typ || string(got) != string(w) {
			t.Fatalf("request %d (%v): answer (type %v)\n%x\nwant\n%x", i, step.Request, typ, got, w)
		}
	}
	if !h.s.Done() {
		t.Error("the session goes on after SessionStop")
	}
}

// iso20ScheduledDCCar is iso20DCCar in scheduled mode, its loops asking
// for 100 A at 400 V.
func iso20ScheduledDCCar(sid []byte, loops int) []iso20Req {
	q := iso20DCCar(sid, loops)
	q[iSelection].common.ServiceSelectionReq.SelectedEnergyTransferService.ParameterSetID = 2
	q[iSchedule].common.ScheduleExchangeReq.Dynamic_SEReqControlMode = nil
	q[iSchedule].common.ScheduleExchangeReq.Scheduled_SEReqControlMode = &iso20.Scheduled_SEReqControlModeType{}
	q[iDCStart].common.PowerDeliveryReq.EVPowerProfile = schedProfile(schedTupleID, rat(40, 3))
	for i := range loops {
		l := q[iDCLoop+i].dc.DC_ChargeLoopReq
		l.Dynamic_DC_CLReqControlMode = nil
		l.Scheduled_DC_CLReqControlMode = &dc.Scheduled_DC_CLReqControlModeType{EVTargetCurrent: rat(100, 0), EVTargetVoltage: rat(400, 0),
			EVMaximumChargeCurrent: &iso20.RationalNumberType{Value: 250}}
	}
	return q
}

// TestISO20ScheduledDCSession plays a whole -20 DC session in scheduled
// mode under the dc policy: the schedule at Limits.MaxPowerW (50 kW), the
// loop delivering the car's target current within the limits, the
// limits in Scheduled_DC_CLResControlMode; and under soc the loop's
// Terminate, the SoC recorded.
func TestISO20ScheduledDCSession(t *testing.T) {
	for _, soc := range []bool{false, true} {
		want := wantISO20DC(testSID[:], 1, soc)
		want[iSchedule] = scheduledRes(testSID[:], rat(5000, 1))
		l := want[iDCLoop].dc.DC_ChargeLoopRes
		l.Dynamic_DC_CLResControlMode = nil
		l.Scheduled_DC_CLResControlMode = &dc.Scheduled_DC_CLResControlModeType{EVSEMaximumChargePower: &iso20.RationalNumberType{Value: 5000, Exponent: 1},
			EVSEMinimumChargePower: &iso20.RationalNumberType{}, EVSEMaximumChargeCurrent: &iso20.RationalNumberType{Value: 125}, EVSEMaximumVoltage: &iso20.RationalNumberType{Value: 500}}
		pol := PolicySoC
		if !soc {
			pol = PolicyDC
			l.EVSEPresentCurrent, l.EVSECurrentLimitAchieved = rat(100, 0), false // 100 A asked, within 125 A
		}
		h := newHarness(t, iso20Config(pol))
		h.sap(offerISO20DC)
		playISO20(t, h, iso20ScheduledDCCar(testSID[:], 1), want)
		var rec record.Session
		for _, e := range h.events {
			rec.Apply(e)
		}
		if rec.SoC.Value != 30 || rec.Display.SoCUpdateCount != 1 || rec.Display.Mode != "scheduled" || rec.MaxCurrentA.Value != 250 {
			t.Errorf("%v: record SoC %+v display %+v max current %+v", pol, rec.SoC, rec.Display, rec.MaxCurrentA)
		}
	}
}

// TestISO20ScheduledRefused: what breaks the control mode selected, or
// selects a schedule never offered, gets its FAILED code and ends the
// session; the values of a refused loop are still recorded.
func TestISO20ScheduledRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		dc   bool
		reqs func() []iso20Req // the requests up to and including the refused one
		want iso20.ResponseCodeType
	}{
		{"scheduled loop in a dynamic session", false, func() []iso20Req {
			q, s := iso20Car(testSID[:], 1), iso20ScheduledCar(testSID[:], 1)
			return append(q[:iACLoop], s[iACLoop])
		}, iso20.ResponseCodeFAILED},
		{"dynamic loop in a scheduled session", false, func() []iso20Req {
			q, d := iso20ScheduledCar(testSID[:], 1), iso20Car(testSID[:], 1)
			return append(q[:iACLoop], d[iACLoop])
		}, iso20.ResponseCodeFAILED},
		{"scheduled DC loop in a dynamic session", true, func() []iso20Req {
			q, s := iso20DCCar(testSID[:], 1), iso20ScheduledDCCar(testSID[:], 1)
			return append(q[:iDCLoop], s[iDCLoop])
		}, iso20.ResponseCodeFAILED},
		{"a tuple never offered", false, func() []iso20Req {
			q := iso20ScheduledCar(testSID[:], 1)
			q[iACStart].common.PowerDeliveryReq.EVPowerProfile.Scheduled_EVPPTControlMode.SelectedScheduleTupleID = 7
			return q[:iACStart+1]
		}, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid},
		{"a DC start without the tuple", true, func() []iso20Req {
			q := iso20ScheduledDCCar(testSID[:], 1)
			q[iDCStart].common.PowerDeliveryReq.EVPowerProfile = nil
			return q[:iDCStart+1]
		}, iso20.ResponseCodeFAILED_EVPowerProfileInvalid},
		{"a tuple selected in dynamic mode", false, func() []iso20Req {
			q := iso20Car(testSID[:], 1)
			q[iACStart].common.PowerDeliveryReq.EVPowerProfile = schedProfile(schedTupleID, rat(11, 3))
			return q[:iACStart+1]
		}, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid},
		{"a dynamic schedule in scheduled mode", false, func() []iso20Req {
			q, d := iso20ScheduledCar(testSID[:], 1), iso20Car(testSID[:], 1)
			return append(q[:iSchedule], d[iSchedule])
		}, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid},
		{"a scheduled schedule in dynamic mode", true, func() []iso20Req {
			q, s := iso20DCCar(testSID[:], 1), iso20ScheduledDCCar(testSID[:], 1)
			return append(q[:iSchedule], s[iSchedule])
		}, iso20.ResponseCodeFAILED_ScheduleSelectionInvalid},
		{"a parameter set never offered", false, func() []iso20Req {
			q := iso20Car(testSID[:], 1)
			q[iSelection].common.ServiceSelectionReq.SelectedEnergyTransferService.ParameterSetID = 3
			return q[:iSelection+1]
		}, iso20.ResponseCodeFAILED_ServiceSelectionInvalid},
	} {
		h := newHarness(t, iso20Config(PolicyAC))
		if c.dc {
			h = newHarness(t, iso20Config(PolicyDC))
			h.sap(offerISO20DC)
		} else {
			h.sap(offerISO20)
		}
		reqs := c.reqs()
		for i, q := range reqs[:len(reqs)-1] {
			if _, _, step, err := h.send20(q.typ, q.marshal(t)); err != nil || step.Code[:2] != "OK" {
				t.Fatalf("%s: request %d: %q %v", c.name, i, step.Code, err)
			}
		}
		last := reqs[len(reqs)-1]
		_, p, step, err := h.send20(last.typ, last.marshal(t))
		if err != nil || step.Code != c.want.String() || !h.s.Done() {
			t.Fatalf("%s: %q %v, done %v; want %v and the end", c.name, step.Code, err, h.s.Done(), c.want)
		}
		if last.typ == v2gtp.TypeISO20CommonMessages {
			continue
		}
		// A refused loop: no power, Terminate, in the mode the car asked in.
		var power, mode string
		var st *iso20.EVSEStatusType
		if c.dc {
			var d dc.Document
			if _, err := dc.Unmarshal(p, &d); err != nil {
				t.Fatal(err)
			}
			l := d.DC_ChargeLoopRes
			st, power = l.EVSEStatus, iso20Str(l.EVSEPresentCurrent)
			if l.Scheduled_DC_CLResControlMode != nil {
				mode, power = "scheduled", power+" "+iso20Str(*l.Scheduled_DC_CLResControlMode.EVSEMaximumChargePower)
			}
		} else {
			var d ac.Document
			if _, err := ac.Unmarshal(p, &d); err != nil {
				t.Fatal(err)
			}
			l := d.AC_ChargeLoopRes
			st = l.EVSEStatus
			if s := l.Scheduled_AC_CLResControlMode; s != nil {
				mode, power = "scheduled", iso20Str(*s.EVSETargetActivePower)
			} else {
				mode, power = "dynamic", iso20Str(l.Dynamic_AC_CLResControlMode.EVSETargetActivePower)
			}
		}
		wantMode, wantPower := "scheduled", "0"
		switch {
		case c.name == "dynamic loop in a scheduled session":
			wantMode = "dynamic"
		case c.dc:
			wantPower = "0 0"
		}
		if st == nil || st.EVSENotification != iso20.EvseNotificationTerminate || mode != wantMode || power != wantPower {
			t.Errorf("%s: answer %s mode, power %s, status %+v; want %s, %s, Terminate", c.name, mode, power, st, wantMode, wantPower)
		}
		if e := h.events[len(h.events)-1]; e.Kind != record.KindValues || e.Values.SoC == nil {
			t.Errorf("%s: the refused loop's values are not recorded: %+v", c.name, e)
		}
	}
}

func iso20Str(r iso20.RationalNumberType) string {
	return strconv.FormatFloat(iso20Value(r), 'g', -1, 64)
}

// TestISO20ScheduledAnswerAllocs: scheduled mode's answers are built in
// the session's memory as dynamic mode's are: a ScheduleExchangeReq (its
// tuple) and a charge loop allocate what their dynamic twins do, the
// blocks of the car's values their events hand out.
func TestISO20ScheduledAnswerAllocs(t *testing.T) {
	allocs := func(reqs []iso20Req, at int) float64 {
		h := newHarness(t, iso20Config(PolicyAC))
		h.sap(offerISO20)
		for _, q := range reqs[:at] {
			if _, _, step, err := h.send20(q.typ, q.marshal(t)); err != nil || step.Code[:2] != "OK" {
				t.Fatalf("%v: %q %v", step.Request, step.Code, err)
			}
		}
		req := reqs[at].marshal(t)
		hd := v2gtp.Header{Type: reqs[at].typ, Length: uint32(len(req))}
		out := make([]byte, 0, 1024)
		var err error
		n := testing.AllocsPerRun(100, func() { out, _, err = h.s.Handle(t0, hd, req, out[:0]) })
		if err != nil || len(out) == 0 || h.s.Done() {
			t.Fatalf("request %d: %x %v", at, out, err)
		}
		return n
	}
	dyn, sched := iso20Car(testSID[:], 1), iso20ScheduledCar(testSID[:], 1)
	for _, c := range []struct {
		name string
		at   int
		want float64
	}{{"ScheduleExchangeReq", iSchedule, 1}, {"AC_ChargeLoopReq", iACLoop, 2}} {
		d, s := allocs(dyn, c.at), allocs(sched, c.at)
		if d != c.want || s != c.want {
			t.Errorf("%s: %v allocations per answer in dynamic mode, %v in scheduled mode; want %v", c.name, d, s, c.want)
		}
	}
}

// BenchmarkISO20ScheduledChargeLoop measures the answer to one
// AC_ChargeLoopReq in scheduled mode, as BenchmarkISO20ChargeLoop does in
// dynamic mode.
func BenchmarkISO20ScheduledChargeLoop(b *testing.B) {
	cfg := iso20Config(PolicyAC)
	cfg.NewSessionID = func() [8]byte { return testSID }
	s := NewSession(cfg, t0, nil)
	reqs := iso20ScheduledCar(testSID[:], 1)
	sap := sapISO20(b)
	out, _, err := s.Handle(t0, v2gtp.Header{Type: v2gtp.TypeEXI, Length: uint32(len(sap))}, sap, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range reqs[:iACLoop] {
		p := q.marshal(b)
		if out, _, err = s.Handle(t0, v2gtp.Header{Type: q.typ, Length: uint32(len(p))}, p, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	loop := reqs[iACLoop].marshal(b)
	hd := v2gtp.Header{Type: v2gtp.TypeISO20AC, Length: uint32(len(loop))}
	b.ReportAllocs()
	for b.Loop() {
		out, _, err = s.Handle(t0, hd, loop, out[:0])
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

func sapISO20(tb testing.TB) []byte {
	b, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolReq: &apphand.SupportedAppProtocolReq{AppProtocol: []apphand.AppProtocolType{offerISO20}}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestISO20ScheduledCarOverTCP: the simulator's iso20-ac-scheduled car
// against the server on real sockets selects scheduled mode and the tuple
// offered; under ac the SoC of every loop reaches the record, under soc
// the first loop's, then Terminate. A DC car in scheduled mode follows
// the schedule of a 20 kW charger: 50 A at its 400 V.
func TestISO20ScheduledCarOverTCP(t *testing.T) {
	acCar, err := evcc.Lookup("iso20-ac-scheduled")
	if err != nil {
		t.Fatal(err)
	}
	dcCar, err := evcc.Lookup("iso20-dc")
	if err != nil {
		t.Fatal(err)
	}
	dcCar.ISO20Scheduled = true
	small := iso20Config(PolicyDC)
	small.Limits = DefaultLimits
	small.Limits.MaxPowerW = 20000
	for _, c := range []struct {
		car   evcc.Profile
		cfg   Config
		mode  string
		end   evcc.End
		socs  []int
		amps  float64 // the DC loops' target current
		steps int
	}{
		{acCar, iso20Config(PolicyAC), "AC scheduled", evcc.EndComplete, []int{40, 41, 42, 43, 44}, 0, 17},
		{acCar, iso20Config(PolicySoC), "AC scheduled", evcc.EndShutdown, []int{40}, 0, 13},
		{dcCar, small, "DC scheduled", evcc.EndComplete, []int{30, 31, 32, 33, 34}, 50, 23},
	} {
		_, addr, ev := startServer(t, c.cfg)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		res, err := evcc.Run(context.Background(), conn, evcc.Config{Profile: c.car})
		conn.Close()
		if err != nil || res.Protocol != "iso20" || res.End != c.end || res.Mode != c.mode || res.ScheduleTupleID != 1 || len(res.Steps) != c.steps {
			t.Fatalf("%s under %v: %s %q %v tuple %d, %d steps, %v (steps %+v)", c.car.Name, c.cfg.Policy, res.Protocol, res.Mode, res.End, res.ScheduleTupleID, len(res.Steps), err, res.Steps)
		}
		<-ev.end
		ev.mu.Lock()
		var rec record.Session
		for _, e := range ev.all {
			rec.Apply(e)
			if e.Kind == record.KindValues && e.Message == message.DC_ChargeLoopReq && *e.Values.TargetCurrentA != c.amps {
				t.Errorf("%s: target current %v A, want %v", c.car.Name, *e.Values.TargetCurrentA, c.amps)
			}
		}
		ev.mu.Unlock()
		var socs []int
		for _, u := range rec.Display.SoCUpdates {
			socs = append(socs, u.SoC)
		}
		if !slices.Equal(socs, c.socs) || rec.Display.SoCUpdateCount != len(c.socs) || rec.SoC.Value != c.socs[len(c.socs)-1] {
			t.Errorf("%s under %v: the record's SoC updates %v (count %d, SoC %+v), want %v", c.car.Name, c.cfg.Policy, socs, rec.Display.SoCUpdateCount, rec.SoC, c.socs)
		}
	}
}

// loopConn is a car's side of a connection without deadlines (so that
// the car's clock times nothing but its loop) that counts the
// AC_ChargeLoopReqs written.
type loopConn struct {
	rw    io.ReadWriter
	loops atomic.Int32
}

func (c *loopConn) Read(b []byte) (int, error) { return c.rw.Read(b) }

func (c *loopConn) Write(b []byte) (int, error) {
	if h, p, _, err := v2gtp.Split(b); err == nil && h.Type == v2gtp.TypeISO20AC {
		var d ac.Document
		if _, err := ac.Unmarshal(p, &d); err == nil && d.AC_ChargeLoopReq != nil {
			c.loops.Add(1)
		}
	}
	return c.rw.Write(b)
}

// TestISO20CarLoopInterval: a -20 car loops at its interval on its clock:
// Config.LoopInterval, else the profile's when paced, else at once. Each
// wait starts after a loop's answer (the car has sent exactly that many
// loops) and lasts the interval; five loops take four.
func TestISO20CarLoopInterval(t *testing.T) {
	p, err := evcc.Lookup("iso20-ac-scheduled")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		cfg   evcc.Config
		every time.Duration
	}{
		{"config", evcc.Config{LoopInterval: 200 * time.Millisecond}, 200 * time.Millisecond},
		{"paced: the profile's", evcc.Config{Paced: true}, time.Second},
		{"unpaced", evcc.Config{}, 0},
	} {
		_, addr, ev := startServer(t, iso20Config(PolicyAC))
		tcp, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Unix(1_800_000_000, 0)
		clk := clock.NewFake(start)
		conn := &loopConn{rw: tcp}
		done := make(chan struct{})
		waits := make(chan []string, 1)
		go func() {
			var bad []string
			defer func() { waits <- bad }()
			for i := 1; c.every > 0 && i < 5; i++ {
				clk.WaitCreated(i-1, done)
				next, ok := clk.Next()
				if n := conn.loops.Load(); !ok || n != int32(i) || next.Sub(clk.Now()) != c.every {
					bad = append(bad, fmt.Sprintf("wait %d: after %d loops, %v long (pending %v)", i, n, next.Sub(clk.Now()), ok))
				}
				clk.Advance(c.every)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c.cfg.Profile, c.cfg.Clock = p, clk
		res, err := evcc.Run(ctx, conn, c.cfg)
		cancel()
		close(done)
		tcp.Close()
		<-ev.end
		if bad := <-waits; len(bad) > 0 {
			t.Errorf("%s: %v", c.name, bad)
		}
		if err != nil || res.End != evcc.EndComplete || conn.loops.Load() != 5 || !slices.Equal(res.SoCs, []int{40, 41, 42, 43, 44}) {
			t.Fatalf("%s: %v %v, %d loops, SoCs %v", c.name, res.End, err, conn.loops.Load(), res.SoCs)
		}
		if got, want := clk.Now().Sub(start), 4*c.every; got != want || clk.Created() != 4*min(int(c.every), 1) {
			t.Errorf("%s: the car's clock moved %v with %d timers, want %v", c.name, got, clk.Created(), want)
		}
	}
}
