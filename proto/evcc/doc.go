// Package evcc plays the car's side (EVCC) of a V2G session for the
// simulator and for testing chargers: SupportedAppProtocol, then DIN SPEC
// 70121 DC or ISO 15118-2 DC and AC, over an already connected TCP stream.
//
// The car follows the charger's answers as a real car does: it repeats
// requests answered Ongoing, and CableCheck and PreCharge until the
// charger is ready, for as long as the standards' timers allow
// (V2G_EVCC_Ongoing_Timeout, V2G_EVCC_CableCheck_Timeout,
// V2G_EVCC_PreCharge_Timeout), waits V2G_EVCC_Msg_Timeout for each answer
// and, paced, its own think time between requests; it stops with
// PowerDelivery(stop) and SessionStop when the charger reports
// EVSE_Shutdown, EVSE_EmergencyShutdown or StopCharging, and closes the
// connection on a FAILED response code. A Profile holds what one car
// model offers and sends, taken from captures of that car where one
// exists, with its quirks.
//
// Run does no SLAC and no SDP; Profile carries what those need (MAC,
// RunID, SLAC restarts, SDP delay) for the simulator that does.
package evcc
