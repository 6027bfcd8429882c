// Package evsetwin is a twin of a SmartEVSE (the community firmware with
// modem support) for the simulator and tests: the HTTP API a modem computer
// and the daemon talk to, POST /ev_state, GET /settings and POST
// /settings' override_pwm and required_evccid, answered byte for byte as
// the firmware answers, and the firmware's modem sequence on a
// 1 s tick with its timers, driving a control pilot (package cp) that the
// simulated car and modems follow.
//
// At plug-in (the car at B on a pilot in state A) the twin goes to
// MODEM_REQUEST (CP off until the next tick), then MODEM_WAIT (5 % PWM, 60
// s), then MODEM_DONE on a valid SoC or after the 60 s (CP off for 5 s),
// then B with the nominal PWM, and C when the car draws current. A
// required EVCCID that differs from the one posted turns the end of
// MODEM_DONE into MODEM_DENIED for 60 s, then A. The sources: the firmware's
// main.cpp and network_common.cpp (2026 snapshot), as summarised in
// shared/reference/smartevse.md.
package evsetwin
