// Package doctor checks that a host can run the charger: the modem's
// interface and driver, IPv6, raw sockets, the modem's answers, the SDP port
// and the SmartEVSE. Each check says what it found and, when it fails, what
// to do.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ccslink/ccslink/daemon/mdns"
	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/sdp"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// The statuses of a Check.
const (
	OK   = "ok"   // the check passed
	Warn = "warn" // worth knowing, but the charger can run
	Fail = "FAIL" // the charger cannot run until it is fixed
	Skip = "skip" // not checked: an earlier check failed
)

// The names of the checks, in the order Run makes them.
const (
	CheckInterface = "interface"
	CheckDriver    = "driver"
	CheckIPv6      = "ipv6"
	CheckRawSocket = "raw_socket"
	CheckModem     = "modem"
	CheckPowerline = "powerline_link"
	CheckSDPPort   = "sdp_port"
	CheckSmartEVSE = "smartevse"
	// CheckOutputs is the command's own check of the configuration: does
	// anything receive the cars' values. Run does not make it.
	CheckOutputs = "outputs"
)

// DefaultTimeout bounds each answer (the modem's, the SmartEVSE's) when Config.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// Config says what Run checks; zero fields take defaults.
type Config struct {
	// Iface is the modem's network interface, e.g. eth1.
	Iface string
	// EmulateModem puts an emulated modem in front of the interface, as
	// --emulate-modem does for the charger, so a veth pair passes.
	EmulateModem bool
	// SmartEVSE is the URL the charger posts to; empty skips its check.
	SmartEVSE string
	// Timeout bounds each answer; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver finds a SmartEVSE given by a .local name; nil means
	// multicast DNS on every interface.
	Resolver *mdns.Resolver
	// System is the operating system the checks ask; nil means this host's.
	System System
}

// Check is the outcome of one check.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`        // OK, Warn, Fail or Skip
	Found  string `json:"found"`         // what the check found, in words
	Fix    string `json:"fix,omitempty"` // what to do, when it did not pass
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Fail {
			return true
		}
	}
	return false
}

// CapsFix is what to do when ccslink may not open its sockets; every
// command that opens the interface says the same.
const CapsFix = "run as root, or once `sudo setcap cap_net_raw,cap_net_admin+ep $(command -v ccslink)`, or run it as the systemd unit does (AmbientCapabilities)"

// capsFix is a check's fix when the process may not open its sockets.
const capsFix = "needs CAP_NET_RAW: " + CapsFix

// Run makes every check in order and returns them all; checks that need
// an earlier one to pass are reported as Skip.
func Run(ctx context.Context, cfg Config) []Check {
	sys := cfg.System
	if sys == nil {
		sys = hostSystem{}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &run{ctx: ctx, cfg: cfg, sys: sys, timeout: timeout}
	d.all()
	if cfg.SmartEVSE != "" {
		d.add(checkSmartEVSE(ctx, cfg.SmartEVSE, timeout, cfg.Resolver))
	}
	return d.checks
}

type run struct {
	ctx     context.Context
	cfg     Config
	sys     System
	timeout time.Duration
	checks  []Check
}

func (d *run) add(c Check) { d.checks = append(d.checks, c) }

func (d *run) skip(why string, names ...string) {
	for _, n := range names {
		d.add(Check{Name: n, Status: Skip, Found: why})
	}
}

// all makes the checks of the interface and the modem.
func (d *run) all() {
	name := d.cfg.Iface
	ifi, c := d.checkInterface()
	d.add(c)
	if ifi == nil {
		d.skip("not checked: no interface "+name, CheckDriver, CheckIPv6, CheckRawSocket, CheckModem, CheckPowerline, CheckSDPPort)
		return
	}
	d.add(d.checkDriver(name))
	up := ifi.Flags&net.FlagUp != 0
	if up {
		d.add(d.checkIPv6(name))
	} else {
		d.skip("not checked: "+name+" is down", CheckIPv6)
	}
	conn, c := d.checkRawSocket(name)
	d.add(c)
	switch {
	case conn == nil:
		d.skip("not checked: no raw socket on "+name, CheckModem, CheckPowerline)
	case !up:
		conn.Close()
		d.skip("not checked: "+name+" is down", CheckModem, CheckPowerline)
	default:
		d.checkModem(conn)
	}
	if up {
		d.add(d.checkSDPPort(name))
	} else {
		d.skip("not checked: "+name+" is down", CheckSDPPort)
	}
}

func (d *run) checkInterface() (*net.Interface, Check) {
	c := Check{Name: CheckInterface}
	name := d.cfg.Iface
	all, err := d.sys.Interfaces()
	if err != nil {
		c.Status, c.Found = Fail, "cannot list the network interfaces: "+err.Error()
		c.Fix = "run `ip link` to see what is wrong"
		return nil, c
	}
	for i := range all {
		if all[i].Name != name {
			continue
		}
		ifi := &all[i]
		if ifi.Flags&net.FlagLoopback != 0 {
			c.Status, c.Found = Fail, name+" is the loopback interface, not a modem's"
			c.Fix = "give the modem's interface with --iface, e.g. eth1"
			return nil, c
		}
		if ifi.Flags&net.FlagUp == 0 {
			c.Status, c.Found = Fail, name+" exists but is down"
			c.Fix = "`ip link set " + name + " up`"
			return ifi, c
		}
		c.Status, c.Found = OK, name+" is up"
		if len(ifi.HardwareAddr) > 0 {
			c.Found += " (" + ifi.HardwareAddr.String() + ")"
		}
		return ifi, c
	}
	names := make([]string, len(all))
	var qca []string
	for i, x := range all {
		names[i] = x.Name
		if drv, _, err := d.sys.Driver(x.Name); err == nil && qcaDriver(drv) != "" {
			qca = append(qca, x.Name)
		}
	}
	list := strings.Join(names, ", ")
	if list == "" {
		list = "none"
	}
	c.Status = Fail
	if name == "" {
		c.Found = "no interface given; there are: " + list
	} else {
		c.Found = "no interface " + name + "; there are: " + list
	}
	if len(qca) > 0 {
		c.Fix = "the QCA7000 is " + strings.Join(qca, ", ") + ": use --iface " + qca[0]
	} else {
		c.Fix = "give the modem's interface with --iface; a QCA7000 shows up once its driver is loaded: " + dtoverlayFix
	}
	return nil, c
}

// dtoverlayFix says how to load the QCA7000's SPI driver on a Raspberry Pi.
const dtoverlayFix = "add `dtoverlay=qca7000,int_pin=<GPIO>,speed=<Hz>` to /boot/firmware/config.txt with your board's interrupt pin and SPI speed, reboot, and check `dmesg | grep qca`"

// qcaDriver names the QCA7000 drivers of Linux, or returns "".
func qcaDriver(driver string) string {
	switch driver {
	case "qcaspi":
		return "the QCA7000 SPI driver"
	case "qcauart":
		return "the QCA7000 UART driver"
	}
	return ""
}

func (d *run) checkDriver(name string) Check {
	c := Check{Name: CheckDriver}
	drv, virtual, err := d.sys.Driver(name)
	if err != nil {
		c.Status, c.Found = Warn, "cannot tell the driver of "+name+": "+err.Error()
		c.Fix = "for a QCA7000 on SPI: " + dtoverlayFix
		return c
	}
	if what := qcaDriver(drv); what != "" {
		c.Status, c.Found = OK, drv+": "+what
		if d.cfg.EmulateModem {
			c.Status = Warn
			c.Found += ", but --emulate-modem puts an emulated modem in front of it"
			c.Fix = "leave --emulate-modem out to use the real modem"
		}
		return c
	}
	if virtual {
		if d.cfg.EmulateModem {
			c.Status, c.Found = OK, drv+": a virtual interface, with an emulated modem"
			return c
		}
		c.Status, c.Found = Warn, drv+": a virtual interface (use --emulate-modem)"
		c.Fix = "a virtual interface has no modem: add --emulate-modem, or give the QCA7000's interface"
		return c
	}
	c.Status, c.Found = Warn, drv+": not the QCA7000 driver (qcaspi); an Ethernet HomePlug adapter works too (see the modem check)"
	c.Fix = "for a QCA7000 on SPI: " + dtoverlayFix
	return c
}

func (d *run) checkIPv6(name string) Check {
	c := Check{Name: CheckIPv6}
	addr, err := d.sys.LinkLocal(name)
	if err != nil {
		c.Status, c.Found = Fail, name+" has no IPv6 link-local address, which the car's SDP request needs"
		c.Fix = "IPv6 disabled? `sysctl net.ipv6.conf." + name + ".disable_ipv6=0` (and net.ipv6.conf.all.disable_ipv6=0)"
		return c
	}
	c.Status, c.Found = OK, "link-local address "+addr.String()
	return c
}

func (d *run) checkRawSocket(name string) (link.Conn, Check) {
	c := Check{Name: CheckRawSocket}
	conn, err := d.sys.OpenHomePlug(name)
	if err != nil {
		c.Status = Fail
		if errors.Is(err, os.ErrPermission) {
			c.Found = "not permitted to open a raw socket on " + name
			c.Fix = capsFix
			return nil, c
		}
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err // the socket's words, without the op and address
		}
		c.Found = "cannot open a raw socket on " + name + ": " + err.Error()
		c.Fix = "the charger needs an Ethernet interface for HomePlug frames; check `ip link show " + name + "`"
		return nil, c
	}
	c.Status, c.Found = OK, "raw HomePlug socket on "+name
	return conn, c
}

// checkModem asks the modem behind conn for its firmware and its link, and closes conn.
func (d *run) checkModem(conn link.Conn) {
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	host, err := homeplug.MACFrom(conn.HardwareAddr())
	if err != nil {
		conn.Close()
		d.add(Check{Name: CheckModem, Status: Fail, Found: d.cfg.Iface + " has no Ethernet address",
			Fix: "give the modem's Ethernet interface with --iface"})
		d.skip("not checked: no modem", CheckPowerline)
		return
	}
	port := conn
	who := "the modem"
	if d.cfg.EmulateModem {
		e, err := modemsim.Emulate(ctx, conn, modemsim.EmulateConfig{Modem: modemsim.ModemConfig{EVSE: true}})
		if err != nil {
			conn.Close()
			d.add(Check{Name: CheckModem, Status: Fail, Found: "cannot emulate a modem: " + err.Error()})
			d.skip("not checked: no modem", CheckPowerline)
			return
		}
		defer e.Close()
		port, who = e.Host(), "the emulated modem"
	} else {
		defer conn.Close()
	}
	q := querier{conn: port, host: host, timeout: d.timeout}
	var ver homeplug.SwVerCnf
	if err := q.ask(ctx, &homeplug.SwVerReq{}, &ver); err != nil {
		c := Check{Name: CheckModem, Status: Fail}
		if errors.Is(err, errNoAnswer) {
			c.Found = "no modem answered VS_SW_VER.REQ on " + d.cfg.Iface + " within " + d.timeout.String()
			c.Fix = "is the modem powered and wired to the SPI bus? check `dmesg | grep qca`; on a veth pair use --emulate-modem"
		} else {
			c.Found = "asking the modem for its firmware: " + err.Error()
		}
		d.add(c)
		d.skip("not checked: no modem", CheckPowerline)
		return
	}
	c := Check{Name: CheckModem, Status: OK, Found: fmt.Sprintf("%s %s answered: firmware %s", who, q.from, ver.Version)}
	if ver.MStatus != homeplug.MStatusSuccess {
		c.Status = Warn
		c.Found += fmt.Sprintf(" (status 0x%02x)", ver.MStatus)
	}
	d.add(c)

	var st homeplug.PlLnkStatusCnf
	if err := q.ask(ctx, &homeplug.PlLnkStatusReq{}, &st); err != nil {
		c := Check{Name: CheckPowerline, Status: Warn}
		if errors.Is(err, errNoAnswer) {
			c.Found = who + " did not answer VS_PL_LNK_STATUS.REQ within " + d.timeout.String()
		} else {
			c.Found = "asking the link status: " + err.Error()
		}
		d.add(c)
		return
	}
	if st.LinkStatus == homeplug.LinkUp {
		d.add(Check{Name: CheckPowerline, Status: OK, Found: "powerline link up: a car's modem is in the network"})
		return
	}
	d.add(Check{Name: CheckPowerline, Status: Warn, Found: "no powerline link (normal without a car)"})
}

func (d *run) checkSDPPort(name string) Check {
	c := Check{Name: CheckSDPPort}
	cl, err := d.sys.ListenSDP(name)
	if err == nil {
		cl.Close()
		c.Status, c.Found = OK, fmt.Sprintf("UDP port %d is free on %s", sdpPort, name)
		return c
	}
	c.Status = Fail
	switch {
	case errors.Is(err, sdp.ErrInUse):
		c.Found = fmt.Sprintf("UDP port %d on %s is taken by another program (a running ccslink evse, or pyPLC?)", sdpPort, name)
		c.Fix = "`ss -ulpn sport = :15118` names it; `systemctl stop pyplc` stops pyPLC"
	case errors.Is(err, sdp.ErrPermission):
		c.Found = fmt.Sprintf("not permitted to open UDP port %d on %s", sdpPort, name)
		c.Fix = capsFix
	case errors.Is(err, sdp.ErrNoLinkLocal):
		c.Status, c.Found = Skip, "not checked: "+name+" has no IPv6 link-local address"
	default:
		c.Found = fmt.Sprintf("cannot open UDP port %d on %s: %v", sdpPort, name, err)
	}
	return c
}

// sdpPort is the SDP server's UDP port (ISO 15118-2 §7.10.1.1).
const sdpPort = 15118
