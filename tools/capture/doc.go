// Package capture reads packet captures of charging sessions (pcap and
// pcapng, Ethernet) and pulls out what ccslink speaks: HomePlug Green PHY
// management frames, and V2GTP messages from SDP datagrams and from TCP
// streams that it reassembles the way the receiving host would.
//
// Reassembly follows sequence numbers, not capture order: retransmitted,
// duplicated, overlapping and out-of-order segments each contribute their
// bytes once, and a message may span segments or share one with others.
// Holes that the capture never fills (a lost segment, a capture started in
// the middle of a connection) are skipped: splitting resumes at the first
// segment after the hole that starts with a V2GTP header. Streams that do
// not carry V2GTP, typically TLS, are reported in [Stream], not decoded.
package capture
