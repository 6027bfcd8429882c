// Package mqtt publishes the plugged-in car's values to an MQTT broker, with
// Home Assistant discovery, so that Home Assistant, evcc or any other MQTT
// client sees the SoC, the EVCCID and the charger's state.
//
// An Output has the two methods of the charger's subscriber. They never
// wait on the network: they note the newest value of each topic, and the
// Output's own goroutine publishes it (every value is retained, so a
// subscriber that comes late still sees it). A value the car did not send
// is published as -1. The topics, under the prefix (ccslink/<interface>/):
//
//	status          online / offline (the last will), retained
//	state           waiting, slac, session, reading, done, no-car, error
//	soc             percent
//	full_soc        percent
//	energy_capacity Wh
//	energy_request  Wh
//	evccid          lowercase hex
//	protocol        din, iso2
//	soc_timestamp   RFC 3339 time the car sent the SoC
//	session         the last car's record as JSON
//
// The values are the last car's until the next car matches. The client
// reconnects by itself and republishes everything on each connection, and
// the Home Assistant discovery configs again whenever Home Assistant
// announces itself on <discovery prefix>/status.
package mqtt
