package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/netnstest"
	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/record"
)

// scapyPython returns a python3 that imports scapy's HomePlug GP layer. It
// skips the test when there is none, and fails it in CI, which installs
// python3-scapy (.ci/run).
func scapyPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(name)
		if err == nil && exec.Command(path, "-c", "import scapy.contrib.homepluggp").Run() == nil {
			return path
		}
	}
	const msg = "needs python3 with scapy (Debian: apt-get install python3-scapy)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": CI must run this test (.ci/run installs it)")
	}
	t.Skip(msg + "; skipped")
	return ""
}

// scapyCarReport is the line testdata/scapycar.py prints.
type scapyCarReport struct {
	OK        bool     `json:"ok"`
	Error     string   `json:"error"`
	MAC       string   `json:"mac"`
	EVSEMAC   string   `json:"evse_mac"`
	NID       string   `json:"nid"`
	Attempts  int      `json:"slac_attempts"`
	SECC      string   `json:"secc"`
	SessionID string   `json:"session_id"`
	Sent      []string `json:"sent"`
	End       string   `json:"end"`
}

// TestEVSEAgainstIndependentCar serves a car that shares no code with
// ccslink: testdata/scapycar.py, built on scapy's HomePlug GP layer, with
// no modem emulation on its side. It matches the daemon by SLAC over the
// veth, finds it by SDP and replays the requests of a real Hyundai Ioniq
// (pyPLC's capture), the daemon's SessionID spliced in. The SmartEVSE must
// get exactly the values that capture carries.
func TestEVSEAgainstIndependentCar(t *testing.T) {
	python := scapyPython(t)
	capture := shared.Path(t, "captures", "pyplc", "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng")
	// That capture ends in CurrentDemand; the same car's complete session
	// with an Alpitronic charger gives its SessionStopReq.
	stopFrom := shared.Path(t, "captures", "pyplc", "spi_ioniq_alpiHYC150_makerspace_landsberg_left_small_2024-04-03_ok.csv.pcap")
	car, err := filepath.Abs(filepath.Join("testdata", "scapycar.py"))
	if err != nil {
		t.Fatal(err)
	}
	// The car's end has the captured Ioniq's MAC, so its link-local
	// address is the one in the capture.
	nsE, nsP := netnstest.NewVethPair(t, netnstest.Config{
		IfaceA: "evse0", MACA: net.HardwareAddr{2, 0, 0, 0, 0xe5, 1},
		IfaceB: "ev0", MACB: net.HardwareAddr{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}})
	nsE.IP(t, "link", "set", "lo", "up")
	nsP.IP(t, "link", "set", "lo", "up") // scapy warns of an interface without an address
	bin := buildCCSLink(t)

	stub, stubURL := serveStub(t, nsE, "127.0.0.1:0")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	daemon := nsE.Command(ctx, bin, "evse", "--iface", nsE.Iface, "--emulate-modem", "--json", "--v2g-port", "15118",
		"--smartevse", stubURL, "--state-dir", t.TempDir())
	dErr, records := startDaemon(t, daemon)

	py := nsP.Command(ctx, python, car, "--iface", nsP.Iface, "--capture", capture, "--stop-from", stopFrom)
	var cOut, cErr bytes.Buffer
	py.Stdout, py.Stderr = &cOut, &cErr
	runErr := py.Run()
	var rep scapyCarReport
	if err := json.Unmarshal(cOut.Bytes(), &rep); err != nil || runErr != nil || !rep.OK {
		t.Fatalf("car: %v, report %q (%v)\n%s\ndaemon:\n%s", runErr, cOut.String(), err, cErr.String(), dErr.String())
	}
	// The daemon (policy soc) answers the first ChargeParameterDiscoveryReq
	// Ongoing and the second EVSE_Shutdown; the car then stops.
	wantSent := []string{"supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq",
		"ServicePaymentSelectionReq", "ContractAuthenticationReq",
		"ChargeParameterDiscoveryReq", "ChargeParameterDiscoveryReq", "SessionStopReq"}
	if strings.Join(rep.Sent, " ") != strings.Join(wantSent, " ") || rep.End != "EVSE_Shutdown" {
		t.Errorf("the car sent %v and ended with %q, want %v and EVSE_Shutdown\n%s", rep.Sent, rep.End, wantSent, cErr.String())
	}
	secc := "[" + nsE.LinkLocal.WithZone("").String() + "]:15118"
	if rep.MAC != "04:65:65:00:64:c3" || rep.EVSEMAC != "02:00:00:00:e5:01" || rep.SECC != secc ||
		len(rep.NID) != 14 || len(rep.SessionID) != 16 || rep.SessionID == "0102030405060708" {
		t.Errorf("car: %+v (the charger is at %s)", rep, secc)
	}

	select {
	case <-stub.new:
	case <-ctx.Done():
		t.Fatalf("nothing reached the SmartEVSE\ndaemon:\n%s", dErr.String())
	}
	// What the capture carries, as pyPLC's own decoder read it
	// (2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng.decoded.txt): SessionSetupReq
	// EVCCID 0465650064c3; packet #31, ChargeParameterDiscoveryReq:
	// EVRESSSOC 93, FullSOC 94, EVEnergyCapacity 28000 Wh, EVEnergyRequest
	// 1820 Wh (multipliers 0).
	const want = "current_soc=93&full_soc=94&energy_capacity=28000&energy_request=1820&evccid=0465650064c3"
	stub.mu.Lock()
	post, n := stub.got[0], len(stub.got)
	stub.mu.Unlock()
	if post.query != want || n != 1 {
		t.Fatalf("the SmartEVSE got %q (%d posts), want %q once", post.query, n, want)
	}

	// The car has no modem to leave the cable with: the plug-in lasts until
	// the daemon stops, which records it.
	daemon.Process.Signal(syscall.SIGTERM)
	line, ok := <-records // closed when the daemon's stdout ends
	if err := daemon.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v\n%s", err, dErr.String())
	}
	if !ok {
		t.Fatalf("the daemon stopped without a record\n%s", dErr.String())
	}
	var rec record.Session
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("daemon record %q: %v", line, err)
	}
	if rec.Protocol != "din" || rec.SoC.Value != 93 || rec.EVCCIDHex() != "0465650064c3" || rec.EVMAC != "04:65:65:00:64:c3" || rec.End != record.EndSessionStop {
		t.Errorf("record: %s\ndaemon:\n%s", line, dErr.String())
	}
	t.Logf("SLAC attempts of the car: %d", rep.Attempts)
	t.Logf("from the match to the POST at the SmartEVSE: %v (the car asks by SDP 4.1 s after the match, as the Ioniq did)",
		post.at.Sub(rec.Phases.Matched).Round(time.Millisecond))
}
