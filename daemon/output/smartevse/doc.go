// Package smartevse delivers what the car told the charger to a SmartEVSE
// charge controller, the way its firmware expects it: one
// POST /ev_state whose query string carries current_soc, full_soc,
// energy_capacity, energy_request and evccid.
//
// SmartEVSE waits at most 60 s at 5 % PWM for a valid SoC, then disconnects
// CP for a virtual re-plug, which ends the car's session. So a [Sender] never
// makes the session wait: [Sender.Update] only records the car's state, and
// the sender's own goroutine posts it, with a per-attempt timeout, retrying
// with a backoff of up to 5 s until it is delivered or the window (60 s
// from the plug-in's first state, the SmartEVSE's own wait) ends, whether
// or not the car is still there. Each failed attempt is logged with its
// cause, and the last line says what happened, e.g. "not delivered:
// connection refused by 10.0.0.1:80 (17 attempts in 60 s)". While one
// delivery is in progress, newer states replace each other: only the
// newest is sent next, so a SmartEVSE that is down never grows a queue.
//
// # What is sent, and when
//
// Which of the car's values counts is the plug-in record's rule
// (record.Values: the newest, never a 0 over a real value); [FromRecord]
// reads them, and the sender does not decide again. It adds only the
// firmware's contract, so that each POST states what the SmartEVSE then
// holds: a SoC in 0..100 replaces the one held (a lower one too) and -1 is
// ignored; full_soc, energy_capacity and energy_request are stored only
// when they are at least the value held ("only ever go up" until unplug),
// so the sender posts the highest of each, and a lower one alone is no
// news. The first state with a known SoC is posted at once (the firmware
// waits for it), and later changes of the same plug-in no more often than
// once per UpdateInterval (5 s by default): a change within the interval
// waits, newer ones replace it, and the newest is posted when the interval
// from the last POST has passed, whether or not the car's session is still
// there. An ISO 15118-20 car may send a new SoC in every charge loop, as
// fast as TCP allows; the SoC of an AC charge moves 1 % in minutes, and the
// ESP32 serves one request at a time. The session's end (Flush) posts the
// state waiting at once, once per plug-in, so that its last values are not
// late. Each POST carries all that is known; the delivery's
// record event says what was posted (record.Delivery.Sent), which may
// differ from the record's newest full_soc, capacity or request.
//
// A car that never gives a SoC (an AC-only session, or one that stops
// before ChargeParameterDiscovery) still has an EVCCID the firmware can
// check against its allow-list. That is held back until [Sender.Flush],
// which the caller makes when the car's session ends, and then posted with
// current_soc=-1 (which the firmware ignores). [Sender.NewPlugIn] forgets
// the previous car; what is still being sent for it goes on until the next
// car's values replace it (newest wins).
//
// # After the SoC
//
// A [Watcher] reads what the SmartEVSE did next: from the delivery, it asks
// GET /settings (never a write) once a second until evse.state_id is C
// (charging) or a bound passes (a minute: CP off 5 s, nominal PWM, a car
// that takes its time), and reports a record.Handover for the plug-in:
// AC started and when, the states seen, or why they could not be read. A
// 404 or an answer that is not the firmware's JSON ends the watch at once.
//
// Given OnPlugged or OnReading, the Watcher follows the SmartEVSE all the
// time on one poller (the ESP32 serves one page at a time), whose readings
// the watches share: MODEM_WAIT beginning is a car plugged in, A a car
// gone (the input of a car that never talks), and each [Reading] carries
// the EV meter's charged_kwh for the SoC estimated between reads. A
// SmartEVSE that does not answer is asked less often, up to a wait of
// 30 s, said once in the log, and its return once too.
//
// # Endpoint
//
// Users configure either the SmartEVSE's base URL (http://10.0.0.1) or the
// full URL (http://10.0.0.1/ev_state); [Endpoint] accepts both, and a
// trailing slash (http://10.0.0.1/ev_state/) is dropped, as the firmware
// serves only the path without it. A bare address (10.0.0.1) is refused
// with the URL to write instead. A 404 answer means nothing is at the path:
// the URL is wrong, or the firmware was built without modem support
// (MODEM=1); the error says both.
//
// A host name ending in .local (smartevse-1234.local, as the SmartEVSE
// announces itself) is resolved by multicast DNS (package mdns), so a
// static binary reaches it without the system's resolver.
package smartevse
