// Package v2gtp implements the V2G Transfer Protocol of ISO 15118-2 §7.8.3,
// which DIN SPEC 70121 and ISO 15118-20 use too: the 8-byte header in front
// of every EXI document and SDP payload, the framing of whole messages on a
// TCP byte stream, and the SECC Discovery Protocol (SDP) payloads.
//
// A header is the version 0x01, its inverse 0xFE, the payload type (uint16,
// big-endian) and the payload length (uint32, big-endian). TCP may split one
// message over several reads or join several into one; [Reader] hides that,
// with a cap on the payload length so that a hostile peer cannot make it
// allocate more than the caller allows. [Split] does the same for bytes
// already in memory, such as a stream reassembled from a capture. [Writer]
// sends each message in one write from a reused buffer, into which the
// caller encodes the payload directly behind room left for the header.
//
// The package imports only the standard library.
package v2gtp
