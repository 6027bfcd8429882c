package evcc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2g/apphand"
	"github.com/ccslink/ccslink/proto/v2g/iso20"
	"github.com/ccslink/ccslink/proto/v2g/iso20/ac"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// FuzzRun feeds the car arbitrary charger streams: the first byte picks
// the car, the rest is what the charger sends. The car must end with a
// result or an error, never panic or hang.
func FuzzRun(f *testing.F) {
	profiles := Profiles()
	// Whole sessions of the scripted charger, one per policy.
	for i, p := range profiles {
		for _, c := range []charger{
			{namespace: NamespaceDIN, din: dinPolicy(true)},
			{namespace: NamespaceDIN, din: dinPolicy(false)},
			{namespace: NamespaceISO2, iso: isoPolicy("soc")},
			{namespace: NamespaceISO2, iso: isoPolicy("dc")},
			{namespace: NamespaceISO2, iso: isoPolicy("ac")},
		} {
			car, done := c.start(f)
			Run(context.Background(), car, Config{Profile: p})
			if sn := finishRun(car, done); len(sn.sent) > 0 {
				f.Add(append([]byte{byte(i)}, sn.sent...))
			}
		}
	}
	for i, p := range profiles {
		if p.Name == "iso20-ac" {
			f.Add(append([]byte{byte(i)}, iso20Answers(f)...))
		}
	}
	// The answers of real chargers (pyPLC as the charger, the Ioniq as the car).
	if dir, ok := shared.SharedDir(); ok {
		if stream := realAnswers(f, filepath.Join(dir, "vectors", "pyPLC_v2gtp_frames_labeled_dedup.tsv"),
			"2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"); len(stream) > 0 {
			f.Add(append([]byte{0}, stream...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		p := profiles[int(data[0])%len(profiles)]
		conn := pipeReadWriter{bytes.NewReader(data[1:]), io.Discard}
		res, err := Run(context.Background(), conn, Config{Profile: p})
		if err == nil && res.End == EndNone {
			t.Fatalf("no error and no end: %+v", res)
		}
		if err != nil && (res.End == EndComplete || res.End == EndShutdown) {
			t.Fatalf("error %v with End %v", err, res.End)
		}
	})
}

// realAnswers returns the charger's EXI frames of one capture, framed as
// V2GTP, in capture order.
func realAnswers(t testing.TB, table, file string) []byte {
	f, err := os.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stream []byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 9 || c[0] != file || c[3] != "tcp" || c[4] != "15118" {
			continue
		}
		b, err := hex.DecodeString(c[7])
		if err != nil {
			t.Fatal(err)
		}
		stream = v2gtp.AppendMessage(stream, v2gtp.TypeEXI, b)
	}
	return stream
}

// iso20Answers is a charger's whole ISO-20 AC session as the iso20-ac car
// hears it, each answer in its schema's payload type.
func iso20Answers(t testing.TB) []byte {
	sid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	h := iso20.MessageHeaderType{SessionID: sid, TimeStamp: 1}
	id := uint8(1)
	sap, err := apphand.Marshal(&apphand.Document{SupportedAppProtocolRes: &apphand.SupportedAppProtocolRes{ResponseCode: apphand.ResponseCodeOK_SuccessfulNegotiation, SchemaID: &id}})
	if err != nil {
		t.Fatal(err)
	}
	stream := v2gtp.AppendMessage(nil, v2gtp.TypeEXI, sap)
	c := func(d iso20.Document) {
		b, err := iso20.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		stream = v2gtp.AppendMessage(stream, v2gtp.TypeISO20CommonMessages, b)
	}
	a := func(d ac.Document) {
		b, err := ac.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		stream = v2gtp.AppendMessage(stream, v2gtp.TypeISO20AC, b)
	}
	ok := iso20.ResponseCodeOK
	two := int32(2)
	power := iso20.RationalNumberType{Value: 11, Exponent: 3}
	c(iso20.Document{SessionSetupRes: &iso20.SessionSetupResType{Header: h, ResponseCode: iso20.ResponseCodeOK_NewSessionEstablished, EVSEID: "ZZ00000"}})
	c(iso20.Document{AuthorizationSetupRes: &iso20.AuthorizationSetupResType{Header: h, ResponseCode: ok,
		AuthorizationServices: []iso20.AuthorizationType{iso20.AuthorizationEIM}, EIM_ASResAuthorizationMode: &iso20.EIM_ASResAuthorizationModeType{}}})
	c(iso20.Document{AuthorizationRes: &iso20.AuthorizationResType{Header: h, ResponseCode: ok}})
	c(iso20.Document{ServiceDiscoveryRes: &iso20.ServiceDiscoveryResType{Header: h, ResponseCode: ok,
		EnergyTransferServiceList: iso20.ServiceListType{Service: []iso20.ServiceType{{ServiceID: 1}}}}})
	c(iso20.Document{ServiceDetailRes: &iso20.ServiceDetailResType{Header: h, ResponseCode: ok, ServiceID: 1,
		ServiceParameterList: iso20.ServiceParameterListType{ParameterSet: []iso20.ParameterSetType{{ParameterSetID: 1, Parameter: []iso20.ParameterType{{Name: "ControlMode", IntValue: &two}}}}}}})
	c(iso20.Document{ServiceSelectionRes: &iso20.ServiceSelectionResType{Header: h, ResponseCode: ok}})
	a(ac.Document{AC_ChargeParameterDiscoveryRes: &ac.AC_ChargeParameterDiscoveryResType{Header: h, ResponseCode: ok,
		AC_CPDResEnergyTransferMode: &ac.AC_CPDResEnergyTransferModeType{EVSEMaximumChargePower: power, EVSEMinimumChargePower: power, EVSENominalFrequency: power}}})
	c(iso20.Document{ScheduleExchangeRes: &iso20.ScheduleExchangeResType{Header: h, ResponseCode: ok, Dynamic_SEResControlMode: &iso20.Dynamic_SEResControlModeType{}}})
	c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}})
	for range DefaultRounds {
		a(ac.Document{AC_ChargeLoopRes: &ac.AC_ChargeLoopResType{Header: h, ResponseCode: ok, Dynamic_AC_CLResControlMode: &ac.Dynamic_AC_CLResControlModeType{EVSETargetActivePower: power}}})
	}
	c(iso20.Document{PowerDeliveryRes: &iso20.PowerDeliveryResType{Header: h, ResponseCode: ok}})
	c(iso20.Document{SessionStopRes: &iso20.SessionStopResType{Header: h, ResponseCode: ok}})
	return stream
}

// TestISO20Answers: the iso20-ac car plays a whole session from the
// scripted answers, so that they seed FuzzRun with the -20 flow.
func TestISO20Answers(t *testing.T) {
	p, err := Lookup("iso20-ac")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), pipeReadWriter{bytes.NewReader(iso20Answers(t)), io.Discard}, Config{Profile: p})
	if err != nil || res.Protocol != "iso20" || res.End != EndComplete || len(res.Steps) != 17 || len(res.SoCs) != DefaultRounds || res.SoCs[4] != 44 {
		t.Fatalf("%+v %v", res, err)
	}
}
