// Package mqtt publishes the plugged-in car's values to an MQTT broker, with
// Home Assistant discovery, so that Home Assistant, evcc or any other MQTT
// client sees the SoC, the EVCCID and the charger's state.
//
// An Output has the methods of the charger's subscriber, late results too. They never
// wait on the network: they note the newest value of each topic, and the
// Output's own goroutine publishes it (every value is retained, so a
// subscriber that comes late still sees it). A value the car did not send
// is never published as a number: at each match the value topics are
// cleared (an empty retained payload, which deletes the broker's copy) and
// a value is published once the car sent it. The topics, under the prefix
// (ccslink/<name>/, the daemon's name such as pi-garage-eth1):
//
//	status          online / offline (the last will), retained
//	state           waiting, slac, session, reading, done, no-car, error,
//	                no-communication
//	                (record.State: the HTTP API's state says the same)
//	soc             percent
//	full_soc        percent
//	energy_capacity Wh
//	energy_request  Wh
//	evccid          lowercase hex
//	protocol        din, iso2
//	handover        what the charger did after the delivery, as JSON
//	                (record.Handover: strategy, ac_started, ac_after_ms,
//	                outcome ac_started, no_ac or not_observed, the states
//	                seen); it usually comes after the plug-in ended
//	soc_timestamp   RFC 3339 time the car sent the SoC
//	vehicle_id      the recognised car's stable ID (its MAC may change)
//	vehicle         the recognised car as JSON: {"name","id","confidence","by"}
//	soc_estimated   percent, one decimal: the SoC estimated from the energy
//	                the SmartEVSE metered since the SoC was read; a guess
//	                beside soc, never in its place; empty when there is none
//	soc_estimated_basis
//	                that estimate as JSON (record.Estimate: soc,
//	                measured_soc, measured_at, energy_since_wh,
//	                capacity_wh, capacity_from, efficiency, at)
//	session         the last car's record as JSON
//
// A value a charge loop changes (soc, full_soc, energy_capacity,
// energy_request, soc_timestamp, soc_estimated, soc_estimated_basis and
// session) is published at most once per Config.UpdateInterval (1 s): the
// first change at once, later ones within the interval held and the newest
// published when it has passed. An ISO 15118-20 car may send a new SoC in
// every loop, as fast as TCP allows. Every other event of the plug-in (its
// match, its session's end, a delivery) is never held back, and publishes
// at once what is held; status, state and the discovery configs are never
// held either.
//
// The values are the last car's until the next car matches. The client
// reconnects by itself and republishes everything on each connection, and
// again, discovery configs and values, whenever Home Assistant announces
// itself on <discovery prefix>/status. The client ID (ccslink-<name>) must
// be the daemon's own on the broker: when the broker keeps closing the
// connection right after it is made, the log says another client may use it.
package mqtt
