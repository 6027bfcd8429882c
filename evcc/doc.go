// Package evcc plays the car's side (EVCC) of a V2G session for the
// simulator and for testing chargers: SupportedAppProtocol, then DIN SPEC
// 70121 DC or ISO 15118-2 DC and AC, over an already connected TCP stream.
//
// The car follows the charger's answers as a real car does: it repeats
// requests answered Ongoing (a bounded number of times), stops with
// PowerDelivery(stop) and SessionStop when the charger reports
// EVSE_Shutdown, EVSE_EmergencyShutdown or StopCharging, and closes the
// connection on a FAILED response code. A Profile holds what one car
// model offers and sends, taken from captures of that car where one
// exists, with its quirks.
//
// Run does no SLAC and no SDP; Profile carries what those need (MAC,
// RunID, SLAC restarts, SDP delay) for the simulator that does.
package evcc
