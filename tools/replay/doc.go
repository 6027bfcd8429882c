// Package replay plays the car's side of a captured V2G session against
// this charger's SECC, in process: what would our charger have answered,
// and what would it have learnt (SoC, capacity, EVCCID)?
//
// The car is the TCP client that sent SupportedAppProtocolReq. Its
// requests go in capture order to a fresh [secc.Session], each decoded
// with the negotiated codec and re-encoded with the SessionID our charger
// gave, since the car's recorded ones carry the recorded charger's. The
// car does not react to our answers: once our session is done (SessionStop
// answered, or a FAILED such as the soc policy's end of the DC attempt),
// the car's remaining requests are not sent.
//
// A capture with several connections, or several SupportedAppProtocolReq
// on one, gives one [Session] each, replayed in turn as the charger would
// see reconnections, each with its own SessionID.
package replay
