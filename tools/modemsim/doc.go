// Package modemsim simulates QCA7000 HomePlug Green PHY modems on a
// control-pilot cable, so that the charger's and the car's SLAC code (and
// anything above it) can run against each other without hardware.
//
// A Line is the cable; AddModem plugs a Modem into it. Each modem has a
// host link (Modem.Host, an in-memory link.Port, or any link.Conn given to
// AddModemConn) and behaves towards its host as a QCA7000 does:
//
//   - it answers CM_SET_KEY.REQ with Result 0x01, as QCA firmware does,
//     then restarts: for ModemConfig.RestartDelay it passes nothing
//     (it still answers its host's requests, with the link down);
//   - it answers VS_SW_VER.REQ with its firmware string,
//     VS_PL_LNK_STATUS.REQ with "link up" exactly when another modem on the
//     line holds the same NMK (one AVLN), and VS_RS_DEV.REQ by restarting;
//   - configured as EVSE (ModemConfig.EVSE, the PIB setting), it sends its
//     host a CM_ATTEN_PROFILE.IND about 1 ms after each CM_MNBC_SOUND.IND
//     it hears, with the attenuation set for that pair of modems;
//   - it passes the SLAC messages of ISO 15118-3 (CM_SLAC_PARM,
//     CM_START_ATTEN_CHAR, CM_MNBC_SOUND, CM_ATTEN_CHAR, CM_VALIDATE,
//     CM_SLAC_MATCH: broadcast and unicast, they all travel before any key
//     is shared) to every modem on the line, and everything else (IPv6,
//     other MMEs) only between modems of the same AVLN, as a real network
//     does.
//
// Unicast goes only to the modem whose host has the destination MAC, since
// host links in memory are promiscuous. Modem.Unplug takes a modem off the
// line: nothing passes and it leaves its AVLN. A third modem with a larger
// attenuation (Line.SetAttenuation) is a neighbour's car on the same cable
// bundle. Every decision is counted in Stats and reported as an Event.
//
// Emulate puts one emulated modem in front of a real interface, for
// --emulate-modem: two ccslink processes on the two ends of a veth pair
// then see each other as through two modems on one cable. The host software
// uses the Emulator's Host port instead of its raw socket; the two
// emulators tell each other their key state in a private vendor MME
// (StateMMType). A peer that never sends it (another project's car or
// charger, a bare host) is taken into the AVLN from the CM_SLAC_MATCH.CNF
// seen passing, as real modems form it. Only frames of the raw socket's
// ethertype go through an emulator: IPv6 that a host's kernel sends on the
// veth itself is not filtered.
//
// One goroutine per Line (or Emulator) makes every decision, and one per
// host link reads it; all stop when the context ends or at Close. Delays
// run on a Clock, so tests move them by hand; Line.Settle tells a test
// when everything sent so far has been handled.
//
// The restart after CM_SET_KEY matters to the host: a host that keys its
// modem and sends CM_SLAC_MATCH.CNF at once loses the CNF for the restart's
// duration, as it would on a real modem.
package modemsim
