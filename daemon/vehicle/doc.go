// Package vehicle tells which car a plug-in is, though many cars draw a
// new MAC (and so a new EVCCID) on every plug-in: VW group cars keep their
// maker's block 00:7D:FA and draw the rest, others set the locally
// administered bit. A car is recognised, in this order:
//
//   - by the owner's cars list (a MAC pattern such as 00:7d:fa:xx:xx:xx):
//     "config", confidence 1;
//   - by its fixed MAC: "mac", confidence 1;
//   - by its fingerprint (Fingerprint: what it offers in
//     SupportedAppProtocolReq, its limits, capacity and SoC settings) as a
//     car remembered whose MAC changes: "fingerprint", with Similarity as
//     the confidence, at least Threshold;
//   - else it is a new car: "new", confidence 0, remembered for next time.
//
// The remembered cars are one small file in the state directory (Memory).
// The maker of a MAC (MakerOf) comes from the IEEE registry, generated
// from Debian's ieee-data by internal/ouigen. Of the project, the package
// imports only record: the protocol packages never import it; the daemon
// asks it at the car's first ChargeParameterDiscoveryReq.
package vehicle
