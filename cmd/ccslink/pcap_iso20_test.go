package main

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/proto/evcc"
	"github.com/ccslink/ccslink/proto/secc"
	"github.com/ccslink/ccslink/tools/sim"
)

// untimed drops the times of a timeline's lines, which a run on real
// sockets cannot fix: the time since the first frame and the answer time.
var answerTime = regexp.MustCompile(` \([0-9.]+ ms\)$`)

func untimed(out string, kinds ...string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "s" {
			continue
		}
		for _, k := range kinds {
			if f[2] == k {
				lines = append(lines, answerTime.ReplaceAllString(strings.TrimSpace(l[strings.Index(l, " s ")+3:]), ""))
			}
		}
	}
	return lines
}

// TestPcapISO20Recording: the recording of a simulated ISO 15118-20 AC
// plug-in under the ac policy reads message by message with its key values.
func TestPcapISO20Recording(t *testing.T) {
	p, err := evcc.Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if res, err := sim.Run(ctx, sim.Config{Car: p, Policy: secc.PolicyAC, SkipDelays: true, RecordDir: dir}); err != nil || !res.OK {
		t.Fatalf("%+v %v", res, err)
	}
	files, err := pcap.Files(dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("recordings %v %v", files, err)
	}
	out := runPcapCmd(t, files[0])
	if got := untimed(out, "handshake", "v2g"); !slices.Equal(got, iso20ACLines) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(iso20ACLines, "\n"))
	}
	// Replayed against the charger, the recording plays the whole session.
	var rout, rerr bytes.Buffer
	if code := run([]string{"replay", "--policy", "ac", "--json", files[0]}, nil, &rout, &rerr); code != 0 ||
		rout.String() != `{"capture":"`+files[0]+`","policy":"ac","ok":true,"protocol":"iso20","evccid":"023230414301","soc":44,"full_soc":-1,`+
			`"energy_capacity_wh":77000,"energy_request_wh":30000,"steps":17,"end":"session_stop","sessions":1}`+"\n" {
		t.Errorf("replay: exit %d\n%s%s", code, rout.String(), rerr.String())
	}
	for _, w := range []string{": the car ended the session (SessionStop)\n", "  protocol          ISO 15118-20 AC\n",
		"  EVCCID            023230414301\n", "  SoC               40 %\n", "  energy request    30000 Wh\n", "  requests          17, slowest answer "} {
		if !strings.Contains(out, w) {
			t.Errorf("the summary lacks %q:\n%s", w, out[strings.LastIndex(out, "\nsession"):])
		}
	}
}

// The ISO 15118-20 AC session of the iso20-ac car under the ac policy, as
// the timeline shows it: every loop's PresentSOC and power.
var iso20ACLines = []string{
	`handshake car->charger supportedAppProtocolReq Offer1="ISO 15118-20 AC 1.0 (SchemaID 1, priority 1)" Offer2="ISO 15118-2 2.0 (SchemaID 2, priority 2)"`,
	`handshake charger->car supportedAppProtocolRes ResponseCode=OK_SuccessfulNegotiation SchemaID=1 Chosen="ISO 15118-20 AC"`,
	`v2g       car->charger SessionSetupReq EVCCID=023230414301`,
	`v2g       charger->car SessionSetupRes ResponseCode=OK_NewSessionEstablished EVSEID=ZZ00000`,
	`v2g       car->charger AuthorizationSetupReq`,
	`v2g       charger->car AuthorizationSetupRes ResponseCode=OK`,
	`v2g       car->charger AuthorizationReq`,
	`v2g       charger->car AuthorizationRes ResponseCode=OK EVSEProcessing=Finished`,
	`v2g       car->charger ServiceDiscoveryReq`,
	`v2g       charger->car ServiceDiscoveryRes ResponseCode=OK`,
	`v2g       car->charger ServiceDetailReq`,
	`v2g       charger->car ServiceDetailRes ResponseCode=OK`,
	`v2g       car->charger ServiceSelectionReq`,
	`v2g       charger->car ServiceSelectionRes ResponseCode=OK`,
	`v2g       car->charger AC_ChargeParameterDiscoveryReq EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W`,
	`v2g       charger->car AC_ChargeParameterDiscoveryRes ResponseCode=OK EVSEMaximumChargePower=22080 W EVSEMinimumChargePower=4140 W EVSENominalFrequency=50`,
	`v2g       car->charger ScheduleExchangeReq DepartureTime=7200 TargetSOC=80 % EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh`,
	`v2g       charger->car ScheduleExchangeRes ResponseCode=OK EVSEProcessing=Finished`,
	`v2g       car->charger PowerDeliveryReq EVProcessing=Finished ChargeProgress=Start`,
	`v2g       charger->car PowerDeliveryRes ResponseCode=OK`,
	`v2g       car->charger AC_ChargeLoopReq PresentSOC=40 % TargetSOC=80 % BatteryEnergyCapacity=77000 Wh EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W EVPresentActivePower=11000 W`,
	`v2g       charger->car AC_ChargeLoopRes ResponseCode=OK EVSETargetActivePower=22080 W`,
	`v2g       car->charger AC_ChargeLoopReq PresentSOC=41 % TargetSOC=80 % BatteryEnergyCapacity=77000 Wh EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W EVPresentActivePower=11000 W`,
	`v2g       charger->car AC_ChargeLoopRes ResponseCode=OK EVSETargetActivePower=22080 W`,
	`v2g       car->charger AC_ChargeLoopReq PresentSOC=42 % TargetSOC=80 % BatteryEnergyCapacity=77000 Wh EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W EVPresentActivePower=11000 W`,
	`v2g       charger->car AC_ChargeLoopRes ResponseCode=OK EVSETargetActivePower=22080 W`,
	`v2g       car->charger AC_ChargeLoopReq PresentSOC=43 % TargetSOC=80 % BatteryEnergyCapacity=77000 Wh EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W EVPresentActivePower=11000 W`,
	`v2g       charger->car AC_ChargeLoopRes ResponseCode=OK EVSETargetActivePower=22080 W`,
	`v2g       car->charger AC_ChargeLoopReq PresentSOC=44 % TargetSOC=80 % BatteryEnergyCapacity=77000 Wh EVTargetEnergyRequest=30000 Wh EVMaximumEnergyRequest=30000 Wh EVMinimumEnergyRequest=0 Wh EVMaximumChargePower=11000 W EVMinimumChargePower=1380 W EVPresentActivePower=11000 W`,
	`v2g       charger->car AC_ChargeLoopRes ResponseCode=OK EVSETargetActivePower=22080 W`,
	`v2g       car->charger PowerDeliveryReq EVProcessing=Finished ChargeProgress=Stop`,
	`v2g       charger->car PowerDeliveryRes ResponseCode=OK`,
	`v2g       car->charger SessionStopReq ChargingSession=Terminate`,
	`v2g       charger->car SessionStopRes ResponseCode=OK`,
}
