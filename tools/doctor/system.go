package doctor

import (
	"io"
	"net"
	"net/netip"

	"github.com/ccslink/ccslink/proto/homeplug"
	"github.com/ccslink/ccslink/proto/link"
	"github.com/ccslink/ccslink/proto/sdp"
)

// System is what the checks ask of the operating system, so a test can
// make any of it fail.
type System interface {
	// Interfaces lists the network interfaces.
	Interfaces() ([]net.Interface, error)
	// Driver returns the name of the interface's driver (qcaspi, veth,
	// r8152) and whether the interface is virtual.
	Driver(iface string) (name string, virtual bool, err error)
	// LinkLocal returns the interface's IPv6 link-local address.
	LinkLocal(iface string) (netip.Addr, error)
	// OpenHomePlug opens a raw socket for HomePlug frames on the interface.
	OpenHomePlug(iface string) (link.Conn, error)
	// ListenSDP opens the charger's SDP socket (UDP 15118) on the interface.
	ListenSDP(iface string) (io.Closer, error)
}

// hostSystem is this host's operating system.
type hostSystem struct{}

func (hostSystem) Interfaces() ([]net.Interface, error) { return net.Interfaces() }

func (hostSystem) Driver(iface string) (string, bool, error) { return driver(iface) }

func (hostSystem) LinkLocal(iface string) (netip.Addr, error) { return sdp.LinkLocal(iface) }

func (hostSystem) OpenHomePlug(iface string) (link.Conn, error) {
	return link.Listen(iface, homeplug.EtherType, nil)
}

func (hostSystem) ListenSDP(iface string) (io.Closer, error) { return sdp.Listen(iface, sdpPort) }
