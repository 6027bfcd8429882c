package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/daemon/mdns"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/tools/modemsim"
)

var (
	hostMAC  = net.HardwareAddr{2, 0, 0, 0, 0xe5, 1}
	modemMAC = homeplug.MAC{0x00, 0xb0, 0x52, 0x11, 0x22, 0x33}
)

// fakeSystem is an operating system whose every answer a test chooses.
type fakeSystem struct {
	ifaces    []net.Interface
	ifacesErr error
	drivers   map[string]string // name -> driver; "veth" and "dummy" are virtual
	driverErr error
	linkLocal netip.Addr
	llErr     error
	openErr   error
	sdpErr    error
	// peer, when set, gets the far end of the HomePlug socket: the modem.
	peer func(link.Conn)
}

func (f *fakeSystem) Interfaces() ([]net.Interface, error) { return f.ifaces, f.ifacesErr }

func (f *fakeSystem) Driver(iface string) (string, bool, error) {
	if f.driverErr != nil {
		return "", false, f.driverErr
	}
	d, ok := f.drivers[iface]
	if !ok {
		return "", false, errors.New("no /sys/class/net/" + iface)
	}
	return d, d == "veth" || d == "dummy", nil
}

func (f *fakeSystem) LinkLocal(string) (netip.Addr, error) { return f.linkLocal, f.llErr }

func (f *fakeSystem) OpenHomePlug(string) (link.Conn, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	a, b, err := link.Pipe(hostMAC, modemMAC.HardwareAddr())
	if err != nil {
		return nil, err
	}
	if f.peer != nil {
		go f.peer(b)
	}
	return a, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func (f *fakeSystem) ListenSDP(string) (io.Closer, error) {
	if f.sdpErr != nil {
		return nil, f.sdpErr
	}
	return nopCloser{}, nil
}

const testFirmware = "MAC-QCA7000-1.2.5.3207-01-20180904-CS"

// realModem answers VS_SW_VER.REQ and VS_PL_LNK_STATUS.REQ as a QCA7000
// does, after a frame of someone else's.
func realModem(linkStatus uint8) func(link.Conn) {
	return func(c link.Conn) {
		buf := make([]byte, link.MaxFrameSize)
		for {
			n, err := c.ReadFrame(context.Background(), buf)
			if err != nil {
				return
			}
			f, err := homeplug.Decode(buf[:n])
			if err != nil {
				continue
			}
			var reply homeplug.Message
			switch f.Message.(type) {
			case *homeplug.SwVerReq:
				reply = &homeplug.SwVerCnf{MStatus: homeplug.MStatusSuccess, DeviceID: 0x20, Version: testFirmware}
			case *homeplug.PlLnkStatusReq:
				reply = &homeplug.PlLnkStatusCnf{MStatus: homeplug.MStatusSuccess, LinkStatus: linkStatus}
			default:
				continue
			}
			// A stray answer for another host first: it must be skipped.
			other, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(homeplug.MAC{2, 9, 9, 9, 9, 9}, modemMAC, reply.MMType()), reply)
			c.WriteFrame(context.Background(), other)
			fr, _ := homeplug.AppendFrame(nil, homeplug.NewHeader(f.Header.Src, modemMAC, reply.MMType()), reply)
			c.WriteFrame(context.Background(), fr)
		}
	}
}

func goodSystem() *fakeSystem {
	return &fakeSystem{
		ifaces: []net.Interface{
			{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback},
			{Index: 2, Name: "eth0", Flags: net.FlagUp, HardwareAddr: net.HardwareAddr{2, 1, 1, 1, 1, 1}},
			{Index: 3, Name: "eth1", Flags: net.FlagUp, HardwareAddr: hostMAC},
		},
		drivers:   map[string]string{"eth0": "bcmgenet", "eth1": "qcaspi"},
		linkLocal: netip.MustParseAddr("fe80::ff:fe00:e501%eth1"),
		peer:      realModem(homeplug.LinkDown),
	}
}

func statuses(cs []Check) map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.Name] = c.Status
	}
	return m
}

func find(t *testing.T, cs []Check, name string) Check {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, cs)
	return Check{}
}

func TestAllOK(t *testing.T) {
	cs := Run(context.Background(), Config{Iface: "eth1", System: goodSystem(), Timeout: 5 * time.Second})
	want := []Check{
		{Name: CheckInterface, Status: OK, Found: "eth1 is up (02:00:00:00:e5:01)"},
		{Name: CheckDriver, Status: OK, Found: "qcaspi: the QCA7000 SPI driver"},
		{Name: CheckIPv6, Status: OK, Found: "link-local address fe80::ff:fe00:e501%eth1"},
		{Name: CheckRawSocket, Status: OK, Found: "raw HomePlug socket on eth1"},
		{Name: CheckModem, Status: OK, Found: "the modem 00:b0:52:11:22:33 answered: firmware " + testFirmware},
		{Name: CheckPowerline, Status: Warn, Found: "no powerline link (normal without a car)"},
		{Name: CheckSDPPort, Status: OK, Found: "UDP port 15118 is free on eth1"},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cs, want)
	}
	if Failed(cs) {
		t.Error("Failed = true with warnings only")
	}
}

func TestPowerlineUp(t *testing.T) {
	sys := goodSystem()
	sys.peer = realModem(homeplug.LinkUp)
	c := find(t, Run(context.Background(), Config{Iface: "eth1", System: sys, Timeout: 5 * time.Second}), CheckPowerline)
	if c.Status != OK || c.Found != "powerline link up: a car's modem is in the network" {
		t.Errorf("%+v", c)
	}
}

func TestMissingInterface(t *testing.T) {
	sys := goodSystem()
	cs := Run(context.Background(), Config{Iface: "eth7", System: sys})
	want := Check{Name: CheckInterface, Status: Fail, Found: "no interface eth7; there are: lo, eth0, eth1",
		Fix: "the QCA7000 is eth1: use --iface eth1"}
	if cs[0] != want {
		t.Errorf("got %+v\nwant %+v", cs[0], want)
	}
	sys.drivers["eth1"] = "r8152"
	c := Run(context.Background(), Config{Iface: "eth7", System: sys})[0]
	if c.Fix != "give the modem's interface with --iface; a QCA7000 shows up once its driver is loaded: "+dtoverlayFix {
		t.Errorf("fix %q", c.Fix)
	}
	wantStatus := map[string]string{CheckInterface: Fail, CheckDriver: Skip, CheckIPv6: Skip, CheckRawSocket: Skip,
		CheckModem: Skip, CheckPowerline: Skip, CheckSDPPort: Skip}
	if got := statuses(cs); !reflect.DeepEqual(got, wantStatus) {
		t.Errorf("statuses %v", got)
	}
	if !Failed(cs) {
		t.Error("Failed = false")
	}
}

func TestInterfaceDown(t *testing.T) {
	sys := goodSystem()
	sys.ifaces[2].Flags = 0
	cs := Run(context.Background(), Config{Iface: "eth1", System: sys})
	want := Check{Name: CheckInterface, Status: Fail, Found: "eth1 exists but is down", Fix: "`ip link set eth1 up`"}
	if cs[0] != want {
		t.Errorf("got %+v", cs[0])
	}
	wantStatus := map[string]string{CheckInterface: Fail, CheckDriver: OK, CheckIPv6: Skip, CheckRawSocket: OK,
		CheckModem: Skip, CheckPowerline: Skip, CheckSDPPort: Skip}
	if got := statuses(cs); !reflect.DeepEqual(got, wantStatus) {
		t.Errorf("statuses %v", got)
	}
}

func TestDriver(t *testing.T) {
	for _, tc := range []struct {
		driver  string
		err     error
		emulate bool
		want    Check
	}{
		{driver: "qcauart", want: Check{Status: OK, Found: "qcauart: the QCA7000 UART driver"}},
		{driver: "qcaspi", emulate: true, want: Check{Status: Warn,
			Found: "qcaspi: the QCA7000 SPI driver, but --emulate-modem puts an emulated modem in front of it",
			Fix:   "leave --emulate-modem out to use the real modem"}},
		{driver: "veth", want: Check{Status: Warn, Found: "veth: a virtual interface (use --emulate-modem)",
			Fix: "a virtual interface has no modem: add --emulate-modem, or give the QCA7000's interface"}},
		{driver: "veth", emulate: true, want: Check{Status: OK, Found: "veth: a virtual interface, with an emulated modem"}},
		{driver: "r8152", want: Check{Status: Warn,
			Found: "r8152: not the QCA7000 driver (qcaspi); an Ethernet HomePlug adapter works too (see the modem check)",
			Fix:   "for a QCA7000 on SPI: " + dtoverlayFix}},
		{err: errors.New("no /sys/class/net/eth1"), want: Check{Status: Warn,
			Found: "cannot tell the driver of eth1: no /sys/class/net/eth1", Fix: "for a QCA7000 on SPI: " + dtoverlayFix}},
	} {
		sys := goodSystem()
		sys.drivers["eth1"], sys.driverErr = tc.driver, tc.err
		tc.want.Name = CheckDriver
		if got := find(t, Run(context.Background(), Config{Iface: "eth1", System: sys, EmulateModem: tc.emulate}), CheckDriver); got != tc.want {
			t.Errorf("%s emulate=%v:\n got %+v\nwant %+v", tc.driver, tc.emulate, got, tc.want)
		}
	}
}

func TestNoLinkLocal(t *testing.T) {
	sys := goodSystem()
	sys.llErr = fmt.Errorf("%w: eth1", sdp.ErrNoLinkLocal)
	c := find(t, Run(context.Background(), Config{Iface: "eth1", System: sys}), CheckIPv6)
	want := Check{Name: CheckIPv6, Status: Fail, Found: "eth1 has no IPv6 link-local address, which the car's SDP request needs",
		Fix: "IPv6 disabled? `sysctl net.ipv6.conf.eth1.disable_ipv6=0` (and net.ipv6.conf.all.disable_ipv6=0)"}
	if c != want {
		t.Errorf("got %+v", c)
	}
}

func TestNoPermission(t *testing.T) {
	sys := goodSystem()
	sys.openErr = &net.OpError{Op: "listen", Net: "packet", Err: syscall.EPERM}
	sys.sdpErr = fmt.Errorf("%w: UDP port 15118 on eth1: permission denied", sdp.ErrPermission)
	cs := Run(context.Background(), Config{Iface: "eth1", System: sys})
	want := Check{Name: CheckRawSocket, Status: Fail, Found: "not permitted to open a raw socket on eth1", Fix: capsFix}
	if c := find(t, cs, CheckRawSocket); c != want {
		t.Errorf("got %+v", c)
	}
	if c := find(t, cs, CheckModem); c.Status != Skip || c.Found != "not checked: no raw socket on eth1" {
		t.Errorf("modem %+v", c)
	}
	want = Check{Name: CheckSDPPort, Status: Fail, Found: "not permitted to open UDP port 15118 on eth1", Fix: capsFix}
	if c := find(t, cs, CheckSDPPort); c != want {
		t.Errorf("got %+v", c)
	}
}

func TestPortInUse(t *testing.T) {
	sys := goodSystem()
	sys.sdpErr = fmt.Errorf("%w: UDP port 15118 on eth1: is another SDP server running there?", sdp.ErrInUse)
	want := Check{Name: CheckSDPPort, Status: Fail, Found: "UDP port 15118 on eth1 is taken by another program (a running ccslink evse, or pyPLC?)",
		Fix: "`ss -ulpn sport = :15118` names it; `systemctl stop pyplc` stops pyPLC"}
	if c := find(t, Run(context.Background(), Config{Iface: "eth1", System: sys}), CheckSDPPort); c != want {
		t.Errorf("got %+v", c)
	}
}

func TestNoModem(t *testing.T) {
	sys := goodSystem()
	sys.peer = nil // a silent wire
	cs := Run(context.Background(), Config{Iface: "eth1", System: sys, Timeout: 50 * time.Millisecond})
	want := Check{Name: CheckModem, Status: Fail, Found: "no modem answered VS_SW_VER.REQ on eth1 within 50ms",
		Fix: "is the modem powered and wired to the SPI bus? check `dmesg | grep qca`; on a veth pair use --emulate-modem"}
	if c := find(t, cs, CheckModem); c != want {
		t.Errorf("got %+v", c)
	}
	if c := find(t, cs, CheckPowerline); c.Status != Skip {
		t.Errorf("link %+v", c)
	}
}

// TestEmulatedModem puts modemsim's emulator in front of a silent wire, as
// --emulate-modem does on a veth pair whose far end is empty.
func TestEmulatedModem(t *testing.T) {
	sys := goodSystem()
	sys.peer = nil
	sys.drivers["eth1"] = "veth"
	cs := Run(context.Background(), Config{Iface: "eth1", System: sys, EmulateModem: true, Timeout: 5 * time.Second})
	if c := find(t, cs, CheckModem); c.Status != OK || c.Found != "the emulated modem 00:b0:52:00:e5:01 answered: firmware "+modemsim.DefaultFirmware {
		t.Errorf("modem %+v", c)
	}
	if c := find(t, cs, CheckPowerline); c.Status != Warn || c.Found != "no powerline link (normal without a car)" {
		t.Errorf("link %+v", c)
	}
	if Failed(cs) {
		t.Errorf("failed: %+v", cs)
	}
}

func TestListInterfacesFails(t *testing.T) {
	sys := goodSystem()
	sys.ifacesErr = errors.New("netlink: permission denied")
	c := Run(context.Background(), Config{Iface: "eth1", System: sys})[0]
	want := Check{Name: CheckInterface, Status: Fail, Found: "cannot list the network interfaces: netlink: permission denied",
		Fix: "run `ip link` to see what is wrong"}
	if c != want {
		t.Errorf("got %+v", c)
	}
}

func smartEVSECheck(t *testing.T, url string, timeout time.Duration) Check {
	t.Helper()
	sys := goodSystem()
	cs := Run(context.Background(), Config{Iface: "eth7", System: sys, SmartEVSE: url, Timeout: timeout})
	return find(t, cs, CheckSmartEVSE)
}

// settingsServer serves GET /settings from testdata/name, as a SmartEVSE
// does, and records what it was asked.
func settingsServer(t *testing.T, name string) (*httptest.Server, func() []string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/settings" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
}

// TestSmartEVSE: a SmartEVSE whose /settings has ev_state has modem
// support; the check names its firmware, its modem state and what its EV
// State card shows. It asks GET /settings and never posts.
func TestSmartEVSE(t *testing.T) {
	srv, asked := settingsServer(t, "settings-modem.json")
	host := srv.Listener.Addr().String()
	c := smartEVSECheck(t, srv.URL, 5*time.Second)
	if c.Status != OK || c.Fix != "" || !matchTook(c.Found, "the SmartEVSE at "+host+" has modem support (GET /settings: HTTP 200, ",
		", firmware v3.6.4); it is in MODEM_WAIT (5 % PWM: waiting up to 60 s for the SoC); its EV State shows SoC 93 %, EVCCID \"0465650064c3\"") {
		t.Errorf("got %+v", c)
	}
	// A receiver of its own: only its base URL is asked, never POSTed to.
	c = smartEVSECheck(t, srv.URL+"/hook/soc/", 5*time.Second)
	if c.Status != OK || !matchTook(c.Found, host+" answered GET / (HTTP 404, ", "); the POST to /hook/soc is not tried, it would change the receiver's state") {
		t.Errorf("got %+v", c)
	}
	if want := []string{"GET /settings", "GET /"}; !slices.Equal(asked(), want) {
		t.Errorf("requests %q, want %q", asked(), want)
	}
}

// matchTook reports whether s is prefix, a duration, suffix.
func matchTook(s, prefix, suffix string) bool {
	if len(s) < len(prefix)+len(suffix) || s[:len(prefix)] != prefix || s[len(s)-len(suffix):] != suffix {
		return false
	}
	_, err := time.ParseDuration(s[len(prefix) : len(s)-len(suffix)])
	return err == nil
}

// TestSmartEVSEWithoutModem: the same SmartEVSE built without MODEM=1 has
// no ev_state and no modem fields: every POST /ev_state would be a 404.
func TestSmartEVSEWithoutModem(t *testing.T) {
	srv, _ := settingsServer(t, "settings-no-modem.json")
	c := smartEVSECheck(t, srv.URL, 5*time.Second)
	if c.Status != Fail || c.Fix != "flash a build with MODEM=1: without it, POST /ev_state is a 404" ||
		!matchTook(c.Found, "the SmartEVSE at "+srv.Listener.Addr().String()+" answers but has no modem support (GET /settings: HTTP 200, ", ", firmware v3.6.4)") {
		t.Errorf("got %+v", c)
	}
}

// TestSmartEVSEModemOptionOff: firmware of before 2024 has a Modem option
// in its menu, which /settings shows as "Not present" while it is off.
func TestSmartEVSEModemOptionOff(t *testing.T) {
	srv, _ := settingsServer(t, "settings-modem-off.json")
	c := smartEVSECheck(t, srv.URL, 5*time.Second)
	if c.Status != Fail || c.Fix != "set Modem to Experimental in the SmartEVSE's menu, or flash a current build with MODEM=1" ||
		!matchTook(c.Found, "the SmartEVSE at "+srv.Listener.Addr().String()+" answers but its Modem option is off (GET /settings: HTTP 200, ", ", firmware v3.0.1)") {
		t.Errorf("got %+v", c)
	}
}

func TestSmartEVSENotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	want := Check{Name: CheckSmartEVSE, Status: Fail,
		Found: srv.Listener.Addr().String() + " answers HTTP but has no /settings (404): not a SmartEVSE?",
		Fix:   "give the SmartEVSE's address; for another receiver give its full URL, path included"}
	if c := smartEVSECheck(t, srv.URL, 5*time.Second); c != want {
		t.Errorf("got %+v", c)
	}
}

func TestSmartEVSEBadURL(t *testing.T) {
	want := Check{Name: CheckSmartEVSE, Status: Fail, Found: "smartevse: the URL has no scheme (10.0.0.1)", Fix: "write http://10.0.0.1"}
	if c := smartEVSECheck(t, "10.0.0.1", time.Second); c != want {
		t.Errorf("got %+v", c)
	}
}

// TestSmartEVSELocalName: a .local name nobody answers for is said as such.
func TestSmartEVSELocalName(t *testing.T) {
	// A responder that hears the query and never answers.
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := &mdns.Resolver{Server: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	cs := Run(context.Background(), Config{Iface: "eth7", System: goodSystem(), SmartEVSE: "http://smartevse-1234.local", Timeout: 300 * time.Millisecond, Resolver: r})
	want := Check{Name: CheckSmartEVSE, Status: Fail,
		Found: "the SmartEVSE at smartevse-1234.local is not reachable: no answer for smartevse-1234.local by multicast DNS",
		Fix:   "check the name (the SmartEVSE shows it on its display and web page as smartevse-<serial>.local), or use the charger's IP address"}
	if c := find(t, cs, CheckSmartEVSE); c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

// closedPort returns a TCP address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSmartEVSERefused(t *testing.T) {
	addr := closedPort(t)
	want := Check{Name: CheckSmartEVSE, Status: Fail, Found: "the SmartEVSE at " + addr + " is not reachable: it refused the connection: nothing listens there",
		Fix: "check the SmartEVSE's address and port (its web server listens on port 80)"}
	if c := smartEVSECheck(t, "http://"+addr, 5*time.Second); c != want {
		t.Errorf("got %+v", c)
	}
}

func TestSmartEVSETimeout(t *testing.T) {
	// A server that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	want := Check{Name: CheckSmartEVSE, Status: Fail, Found: "the SmartEVSE at " + l.Addr().String() + " is not reachable: no answer within 100ms",
		Fix: "is the SmartEVSE on, and this its address? try `ping 127.0.0.1`"}
	if c := smartEVSECheck(t, "http://"+l.Addr().String(), 100*time.Millisecond); c != want {
		t.Errorf("got %+v", c)
	}
}

func TestLoopbackAndNotEthernet(t *testing.T) {
	sys := goodSystem()
	c := Run(context.Background(), Config{Iface: "lo", System: sys})[0]
	want := Check{Name: CheckInterface, Status: Fail, Found: "lo is the loopback interface, not a modem's", Fix: "give the modem's interface with --iface, e.g. eth1"}
	if c != want {
		t.Errorf("got %+v", c)
	}
	sys.openErr = &net.OpError{Op: "listen", Net: "packet", Err: errors.New("eth1 is not an Ethernet interface")}
	c = find(t, Run(context.Background(), Config{Iface: "eth1", System: sys}), CheckRawSocket)
	want = Check{Name: CheckRawSocket, Status: Fail, Found: "cannot open a raw socket on eth1: eth1 is not an Ethernet interface",
		Fix: "the charger needs an Ethernet interface for HomePlug frames; check `ip link show eth1`"}
	if c != want {
		t.Errorf("got %+v", c)
	}
}
