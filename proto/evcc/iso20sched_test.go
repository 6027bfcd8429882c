package evcc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccslink/ccslink/clock"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
)

// A car in scheduled mode takes the first tuple offered and its first
// entry, and refuses an answer without one; it draws the schedule's power
// up to its own.
func TestISO20ScheduleTake(t *testing.T) {
	entry := func(p int16, e int8) iso20.PowerScheduleEntryListType {
		return iso20.PowerScheduleEntryListType{PowerScheduleEntry: []iso20.PowerScheduleEntryType{{Duration: 3600, Power: iso20.RationalNumberType{Value: p, Exponent: e}}}}
	}
	tuple := func(id uint32, l iso20.PowerScheduleEntryListType) iso20.ScheduleTupleType {
		return iso20.ScheduleTupleType{ScheduleTupleID: id, ChargingSchedule: iso20.ChargingScheduleType{PowerSchedule: iso20.PowerScheduleType{PowerScheduleEntries: l}}}
	}
	for _, bad := range []*iso20.Scheduled_SEResControlModeType{nil, {}, {ScheduleTuple: []iso20.ScheduleTupleType{tuple(1, iso20.PowerScheduleEntryListType{})}}} {
		var sc iso20Schedule
		if err := sc.take(bad); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%+v: %v, want ErrBadResponse", bad, err)
		}
	}
	sc := iso20Schedule{on: true}
	if err := sc.take(&iso20.Scheduled_SEResControlModeType{ScheduleTuple: []iso20.ScheduleTupleType{tuple(7, entry(72, 2)), tuple(8, entry(22, 3))}}); err != nil {
		t.Fatal(err)
	}
	if sc.tuple != 7 || sc.duration != 3600 {
		t.Errorf("took tuple %d for %d s, want 7 for 3600 s", sc.tuple, sc.duration)
	}
	car := iso20.RationalNumberType{Value: 11, Exponent: 3}
	if got := sc.follow(car); got != (iso20.RationalNumberType{Value: 72, Exponent: 2}) {
		t.Errorf("7.2 kW schedule, 11 kW car: draws %+v", got)
	}
	sc.power = iso20.RationalNumberType{Value: 22, Exponent: 3}
	if got := sc.follow(car); got != car {
		t.Errorf("22 kW schedule, 11 kW car: draws %+v", got)
	}
	sc.on = false
	sc.power = iso20.RationalNumberType{Value: 1, Exponent: 3}
	if got := sc.follow(car); got != car {
		t.Errorf("dynamic mode: draws %+v", got)
	}
}

// The wait between two loops ends when the car's session is canceled.
func TestISO20LoopPaceCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	s := &session{ctx: ctx, clk: clk, loopEvery: time.Second}
	if err := s.loopPace(0); err != nil || clk.Created() != 0 {
		t.Fatalf("first loop: %v, %d timers", err, clk.Created())
	}
	errc := make(chan error, 1)
	go func() { errc <- s.loopPace(1) }()
	clk.WaitCreated(0, nil)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || clk.Pending() != 0 {
		t.Fatalf("canceled wait: %v, %d timers left", err, clk.Pending())
	}
}
