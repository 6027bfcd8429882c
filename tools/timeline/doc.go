// Package timeline turns a capture of a charging session into a readable
// timeline: the SLAC messages (bursts of sounds on one event), SDP, the
// SupportedAppProtocol handshake and every V2G message decoded with the
// negotiated schema (DIN 70121, ISO 15118-2 or ISO 15118-20), each with its
// key values and, for an answer, the time the other side took. Each plug-in
// or V2G session found ends in a [Summary].
//
// Read never fails: what cannot be decoded becomes an event with Err set,
// once per cause (an encrypted stream is one event, not one per record).
package timeline
