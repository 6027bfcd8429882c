// Package sdp implements the SECC Discovery Protocol of ISO 15118-2, which
// DIN SPEC 70121 uses too: how a car finds the charger's TCP address on the
// PLC link after SLAC.
//
// The car multicasts a request to ff02::1, UDP port 15118, every 250 ms;
// the charger answers unicast with its link-local address, the TCP port of
// its SECC and the security it offers. [Serve] is the charger's side and
// [Discover] the car's; both work on any [net.PacketConn], so a simulator
// can run them on a loopback socket, and [Listen] opens the socket on a PLC
// interface. The payloads themselves are package v2gtp's.
package sdp
