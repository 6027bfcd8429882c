package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/slac"
	"github.com/ccslink/ccslink/tools/doctor"
	"github.com/ccslink/ccslink/tools/modemsim"
)

// homePlugPort opens the HomePlug side of iface: the raw socket, behind an
// emulated modem when emulate is set. close releases both.
func homePlugPort(ctx context.Context, iface string, emulate, evse bool) (port slac.Port, mac homeplug.MAC, emu *modemsim.Emulator, close func(), err error) {
	conn, err := link.Listen(iface, homeplug.EtherType, nil)
	if err != nil {
		return nil, mac, nil, nil, interfaceError(iface, err)
	}
	mac, err = homeplug.MACFrom(conn.HardwareAddr())
	if err != nil {
		conn.Close()
		return nil, mac, nil, nil, fmt.Errorf("interface %s has no Ethernet address: %w", iface, err)
	}
	if !emulate {
		return conn, mac, nil, func() { conn.Close() }, nil
	}
	cfg, err := emulateConfig(evse)
	if err != nil {
		conn.Close()
		return nil, mac, nil, nil, err
	}
	e, err := modemsim.Emulate(ctx, conn, cfg)
	if err != nil {
		conn.Close()
		return nil, mac, nil, nil, err
	}
	// Leaving, the emulated modem tells its peer, as a real one stops beaconing.
	return e.Host(), mac, e, func() { e.Unplug(); e.Close() }, nil
}

// emulateQuirksEnv names the quirks of --emulate-modem's modem, for tests
// against the rest of the world: a comma-separated list of
//
//	no-state-message  stand in for another project's modem: no private
//	                  message to the peer's emulator, the AVLN from SLAC alone
//	link-always-down  answer VS_PL_LNK_STATUS with "no link", as some firmware does
const emulateQuirksEnv = "CCSLINK_EMULATE_QUIRKS"

// emulateConfig is the configuration of --emulate-modem's modem on the
// charger's side (evse) or the car's, with the quirks of emulateQuirksEnv.
func emulateConfig(evse bool) (modemsim.EmulateConfig, error) {
	cfg := modemsim.EmulateConfig{Modem: modemsim.ModemConfig{EVSE: evse}}
	quirks := os.Getenv(emulateQuirksEnv)
	if quirks == "" {
		return cfg, nil
	}
	for _, q := range strings.Split(quirks, ",") {
		switch strings.TrimSpace(q) {
		case "no-state-message":
			cfg.NoStateMessage = true
		case "link-always-down":
			cfg.LinkAlwaysDown = true
		case "":
		default:
			return cfg, fmt.Errorf("%s: unknown quirk %q of the emulated modem (known: no-state-message, link-always-down)", emulateQuirksEnv, q)
		}
	}
	return cfg, nil
}

// ifaceError is a failure to open the interface, in words a user can act on.
type ifaceError struct {
	Iface string
	Err   error
	// Missing: there is no such interface; Names lists those there are.
	Missing bool
	Names   string
}

func (e *ifaceError) Error() string {
	switch {
	case errors.Is(e.Err, os.ErrPermission):
		why := e.Err
		var op *net.OpError
		if errors.As(why, &op) {
			why = op.Err // the socket's words, without the op and the address
		}
		return fmt.Sprintf("opening %s needs CAP_NET_RAW: %s: %v", e.Iface, doctor.CapsFix, why)
	case e.Missing:
		return fmt.Sprintf("no interface %s; there are: %s", e.Iface, e.Names)
	case errors.As(e.Err, new(*link.NotEthernetError)):
		return fmt.Sprintf("%s is not an Ethernet interface: give the modem's with --iface (there are: %s)", e.Iface, interfaceNames())
	}
	return fmt.Sprintf("opening %s: %v", e.Iface, e.Err)
}

func (e *ifaceError) Unwrap() error { return e.Err }

// interfaceError turns a failure to open iface into words a user can act
// on. Every command that opens the interface (evse, slac, pev) says it so.
func interfaceError(iface string, err error) error {
	e := &ifaceError{Iface: iface, Err: err}
	if !errors.Is(err, os.ErrPermission) {
		if _, ierr := net.InterfaceByName(iface); ierr != nil {
			e.Missing, e.Names = true, interfaceNames()
		}
	}
	return e
}

func interfaceNames() string {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return "none"
	}
	var n []string
	for _, i := range ifs {
		n = append(n, i.Name)
	}
	return strings.Join(n, ", ")
}
