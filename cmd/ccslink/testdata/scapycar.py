#!/usr/bin/env python3
"""scapycar: a car that shares nothing with ccslink, for testing the daemon.

It is deliberately independent of the Go code: SLAC frames are built and read
by scapy's HomePlug GP layer, the capture is read by scapy, and the little EXI
it must understand is read here bit by bit from the DIN schema's rules. There
is no modem emulation on its side: it speaks SLAC straight onto the interface.

  1. SLAC as a PEV (ISO 15118-3): CM_SLAC_PARM.REQ with a random RunID,
     3 CM_START_ATTEN_CHAR.IND, 10 CM_MNBC_SOUND.IND, CM_ATTEN_CHAR.RSP to the
     charger's CM_ATTEN_CHAR.IND, CM_SLAC_MATCH.REQ; NMK and NID from the CNF.
     A failed attempt is tried again with a new RunID, as cars do.
  2. SDP to [ff02::1]:15118 from the interface's link-local address, paced
     as the captured car was (the Ioniq waits 4.1 s after the match).
  3. TCP to the charger, replaying a captured car's V2GTP requests, the
     charger's SessionID spliced into each. A request answered Ongoing is sent
     again; EVSE_Shutdown in ChargeParameterDiscoveryRes ends the session with
     the car's captured SessionStopReq, as the car did.

Prints one JSON line on stdout; exits 1 on failure. Needs root (raw socket).
Usage: scapycar.py --iface ev0 --capture ioniq.pcapng [--stop-from other.pcap]
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import time

from scapy.contrib.homepluggp import (
    CM_ATTEN_CHAR_IND, CM_ATTEN_CHAR_RSP, CM_MNBC_SOUND_IND, CM_SLAC_MATCH_CNF,
    CM_SLAC_MATCH_REQ, CM_SLAC_PARM_CNF, CM_SLAC_PARM_REQ,
    CM_START_ATTEN_CHAR_IND, HomePlugAV, SLAC_varfield)
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import PcapReader

HOMEPLUG = 0x88E1
BROADCAST = "ff:ff:ff:ff:ff:ff"
V2G_PORT = 15118

# ISO 15118-3 timing (see shared/reference/slac.md).
TT_MATCH_RESPONSE = 0.2      # wait for a CNF before sending the REQ again
TP_BATCH_INTERVAL = 0.02     # between START_ATTEN_CHAR and sounds
C_EV_MATCH_RETRY = 2
V2G_ANSWER_TIMEOUT = 5.0     # DIN allows 2 s; generous for a loaded test machine


def log(msg):
    print(f"scapycar {time.monotonic():.3f}: {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    pass


# --- the wire: a raw socket for HomePlug frames, scapy for their contents ---

class Wire:
    def __init__(self, iface):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(HOMEPLUG))
        self.sock.bind((iface, HOMEPLUG))
        self.mac = ":".join(f"{b:02x}" for b in self.sock.getsockname()[4][:6])

    def send(self, dst, mme):
        frame = bytes(Ether(src=self.mac, dst=dst, type=HOMEPLUG) / HomePlugAV(version=1) / mme)
        self.sock.send(frame.ljust(60, b"\0"))  # the Ethernet minimum

    def wait(self, layer, run_id, timeout):
        """Returns the first frame carrying layer with our RunID, or None."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                return None
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            pkt = Ether(data)
            if layer not in pkt:
                continue
            got = pkt[layer]
            rid = got.VariableField.RunID if layer is CM_SLAC_MATCH_CNF else got.RunID
            if rid == run_id:
                return pkt
        return None


def nid_of(nmk):
    """HomePlug AV: 5 rounds of SHA-256 over the NMK, security level 0."""
    d = nmk
    for _ in range(5):
        d = hashlib.sha256(d).digest()
    return d[:6] + bytes([d[6] >> 4])


def slac(wire, attempts=3):
    """Matches, with a new RunID after a failed attempt, as cars retry."""
    give_up = time.monotonic() + 20  # the charger may still be starting: keep asking
    for attempt in range(1, attempts + 1):
        try:
            return match(wire, give_up) + (attempt,)
        except Failed as e:
            if attempt == attempts:
                raise
            log(f"SLAC: {e}; again with a new RunID")


def match(wire, give_up):
    run_id = os.urandom(8)
    log(f"SLAC: RunID {run_id.hex()}")
    while True:
        wire.send(BROADCAST, CM_SLAC_PARM_REQ(RunID=run_id))
        cnf = wire.wait(CM_SLAC_PARM_CNF, run_id, TT_MATCH_RESPONSE)
        if cnf is not None or time.monotonic() > give_up:
            break
    if cnf is None:
        raise Failed("no CM_SLAC_PARM.CNF")
    evse_mac, parm = cnf[Ether].src, cnf[CM_SLAC_PARM_CNF]
    sounds, timeout = parm.NumberMSounds or 10, parm.TimeOut or 6
    log(f"SLAC: CM_SLAC_PARM.CNF from {evse_mac}: {sounds} sounds, {timeout * 100} ms")

    for _ in range(3):
        wire.send(BROADCAST, CM_START_ATTEN_CHAR_IND(
            NumberOfSounds=sounds, TimeOut=timeout, ResponseType=1,
            ForwardingSTA=wire.mac, RunID=run_id))
        time.sleep(TP_BATCH_INTERVAL)
    for left in reversed(range(sounds)):
        wire.send(BROADCAST, CM_MNBC_SOUND_IND(Countdown=left, RunID=run_id, RandomValue=os.urandom(16)))
        time.sleep(TP_BATCH_INTERVAL)
    ind = wire.wait(CM_ATTEN_CHAR_IND, run_id, timeout / 10 + 1)
    if ind is None:
        raise Failed("no CM_ATTEN_CHAR.IND")
    log(f"SLAC: CM_ATTEN_CHAR.IND: {ind[CM_ATTEN_CHAR_IND].NumberOfSounds} sounds received")
    wire.send(evse_mac, CM_ATTEN_CHAR_RSP(SourceAdress=wire.mac, RunID=run_id, Result=0))

    for _ in range(1 + C_EV_MATCH_RETRY):
        wire.send(evse_mac, CM_SLAC_MATCH_REQ(VariableField=SLAC_varfield(
            EVMAC=wire.mac, EVSEMAC=evse_mac, RunID=run_id)))
        cnf = wire.wait(CM_SLAC_MATCH_CNF, run_id, 1.0)
        if cnf is not None:
            break
    else:
        raise Failed("no CM_SLAC_MATCH.CNF")
    v = cnf[CM_SLAC_MATCH_CNF].VariableField
    nmk, nid = bytes(v.NMK), bytes(v.NetworkID)
    if nid_of(nmk) != nid:
        raise Failed(f"CM_SLAC_MATCH.CNF: NID {nid.hex()} is not that of NMK {nmk.hex()}")
    log(f"SLAC: matched, NID {nid.hex()}")
    return evse_mac, nid


# --- SDP ---

def link_local(iface):
    with open("/proc/net/if_inet6") as f:
        for line in f:
            addr, index, _, scope, _, name = line.split()
            if name == iface and scope == "20":
                return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(addr)), int(index, 16)
    raise Failed(f"{iface} has no link-local IPv6 address")


def sdp(iface, delay):
    src, index = link_local(iface)
    time.sleep(delay)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, 0, 0, index))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    s.settimeout(0.25)  # cars repeat SDP every 250 ms
    req = bytes([0x01, 0xFE, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00])  # no TLS, TCP
    for _ in range(80):
        s.sendto(req, ("ff02::1", V2G_PORT, 0, index))
        try:
            res = s.recv(64)
        except socket.timeout:
            continue
        if len(res) == 28 and res[:8] == bytes([0x01, 0xFE, 0x90, 0x01, 0, 0, 0, 20]):
            addr = socket.inet_ntop(socket.AF_INET6, res[8:24])
            port = int.from_bytes(res[24:26], "big")
            log(f"SDP: from {src}: charger at [{addr}]:{port}, security {res[26]:#x} transport {res[27]:#x}")
            return addr, port, index
    raise Failed("no SDP answer")


# --- the capture: the car's V2GTP requests, and how long it thought before each ---

def captured_pacing(path):
    """How long the car waited from CM_SLAC_MATCH.CNF to its first SDP
    request, and from the SDP answer to its TCP connection (the Ioniq: 4.1 s
    and 0.6 s)."""
    match = sdp_req = sdp_res = None
    with PcapReader(path) as r:
        for p in r:
            t = float(p.time)
            if match is None and CM_SLAC_MATCH_CNF in p:
                match = t
            elif match is not None and UDP in p and sdp_req is None and p[UDP].dport == V2G_PORT:
                sdp_req = t
            elif sdp_req is not None and UDP in p and sdp_res is None and p[UDP].sport == V2G_PORT:
                sdp_res = t
            elif sdp_res is not None and TCP in p and p[TCP].flags == "S":
                return min(sdp_req - match, 10.0), min(t - sdp_res, 10.0)
    return 0.0, 0.0


def captured_requests(path):
    """The EXI documents the car sent on its first V2G connection, with the
    time between the charger's previous segment and each request."""
    car = server = None
    segs, answered = {}, []
    with PcapReader(path) as r:
        for p in r:
            if IPv6 not in p or TCP not in p:
                continue
            ends = ((p[IPv6].src, p[TCP].sport), (p[IPv6].dst, p[TCP].dport))
            if car is None and p[TCP].flags == "S":
                car, server = ends
            if car is None or set(ends) != {car, server}:
                continue
            data = bytes(p[TCP].payload)
            if data and ends[0] == car:
                segs.setdefault(p[TCP].seq, (data, float(p.time)))
            elif data:
                answered.append(float(p.time))
    if not segs:
        raise Failed(f"{path}: no TCP stream from a car")
    stream, starts, expect = b"", [], min(segs)
    for seq in sorted(segs):  # retransmissions overlap: keep each byte once
        data, at = segs[seq]
        if seq + len(data) <= expect:
            continue
        starts.append((len(stream), at))
        stream += data[expect - seq:] if seq < expect else data
        expect = seq + len(data)
    out, off = [], 0
    while off + 8 <= len(stream):
        if stream[off:off + 2] != b"\x01\xfe":
            raise Failed(f"{path}: no V2GTP header at byte {off} of the car's stream")
        n = int.from_bytes(stream[off + 4:off + 8], "big")
        at = max(t for o, t in starts if o <= off)
        prev = [t for t in answered if t < at]
        out.append((int.from_bytes(stream[off + 2:off + 4], "big"), stream[off + 8:off + 8 + n],
                    min(at - prev[-1], 2.0) if prev else 0.0))
        off += 8 + n
    return out


# --- EXI, just enough of it (EXI 1.0 bit-packed, DIN SPEC 70121 schema) ---

# DIN's Body substitution group: the head and the 34 messages, sorted by name.
DIN_BODY = sorted(["BodyElement"] + [m + s for m in (
    "CableCheck", "CertificateInstallation", "CertificateUpdate", "ChargeParameterDiscovery",
    "ChargingStatus", "ContractAuthentication", "CurrentDemand", "MeteringReceipt",
    "PaymentDetails", "PowerDelivery", "PreCharge", "ServiceDetail", "ServiceDiscovery",
    "ServicePaymentSelection", "SessionSetup", "SessionStop", "WeldingDetection")
    for s in ("Req", "Res")])
DIN_V2G_MESSAGE = 77            # of the schema's 81 global elements, 7 bits
DIN_FAILED = 4                  # responseCodeType: OK, OK_NewSession..., OK_Old..., OK_Cert..., FAILED...
DC_EVSE_STATUS = ["EVSE_NotReady", "EVSE_Ready", "EVSE_Shutdown", "EVSE_UtilityInterruptEvent",
                  "EVSE_IsolationMonitoringActive", "EVSE_EmergencyShutdown", "EVSE_Malfunction"]
SESSION_ID_LENGTH_AT = 18       # header 8, V2G_Message 7, SE(Header) 1, SE(SessionID) 1, CH 1


class Bits:
    """An MSB-first bit string and a read position."""

    def __init__(self, data, pos=0):
        self.s = "".join(f"{b:08b}" for b in data)
        self.pos = pos

    def read(self, n):
        if self.pos + n > len(self.s):
            raise Failed("EXI: the document ends early")
        v = int(self.s[self.pos:self.pos + n], 2) if n else 0
        self.pos += n
        return v

    def unsigned(self):  # 7-bit groups, least significant first
        v, shift = 0, 0
        while True:
            b = self.read(8)
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    def signed(self):
        neg = self.read(1)
        u = self.unsigned()
        return -(u + 1) if neg else u

    def leaf(self, value, code_bits=1):
        """A simple-typed element: SE code (must be 0), CH 0, value, EE 0."""
        if self.read(code_bits) != 0 or self.read(1) != 0:
            raise Failed("EXI: unexpected event")
        v = value()
        self.read(1)
        return v


def unsigned_bits(v):
    out = ""
    while True:
        b, v = v & 0x7F, v >> 7
        out += f"{b | (0x80 if v else 0):08b}"
        if not v:
            return out


def din_header(doc):
    """Returns the document's SessionID and a reader after its Body's SE code."""
    b = Bits(doc, 8)
    if doc[0] != 0x80 or b.read(7) != DIN_V2G_MESSAGE or b.read(1) != 0:
        raise Failed(f"not a DIN V2G_Message: {doc[:4].hex()}")
    sid = bytes(b.leaf(lambda: [b.read(8) for _ in range(b.unsigned())]))
    if b.read(2) != 2 or b.read(1) != 0:  # Header: Notification | Signature | EE
        raise Failed("DIN header with a Notification or Signature")
    return sid, b


def splice_session_id(doc, sid):
    """Replaces the SessionID (a length-prefixed binary at a fixed bit
    offset) and shifts the rest of the stream by the change in length."""
    old, b = din_header(doc)
    s = b.s
    start = SESSION_ID_LENGTH_AT
    end = start + len(unsigned_bits(len(old))) + 8 * len(old)
    s = s[:start] + unsigned_bits(len(sid)) + "".join(f"{x:08b}" for x in sid) + s[end:]
    s += "0" * (-len(s) % 8)
    return bytes(int(s[i:i + 8], 2) for i in range(0, len(s), 8))


def din_body(doc):
    sid, b = din_header(doc)
    return sid, DIN_BODY[b.read(6)], b


def din_answer(doc):
    """The answer's SessionID, name, ResponseCode, EVSEProcessing (Ongoing?)
    where it has one, and the DC_EVSEStatusCode of ChargeParameterDiscoveryRes."""
    sid, name, b = din_body(doc)
    code = b.leaf(lambda: b.read(5))
    ongoing = status = None
    if name in ("ContractAuthenticationRes", "ChargeParameterDiscoveryRes") and code < DIN_FAILED:
        ongoing = b.leaf(lambda: b.read(1)) == 1
        if name == "ChargeParameterDiscoveryRes":
            status = cpd_status(b)
    return sid, name, code, ongoing, status


def cpd_status(b):
    """Walks DIN's ChargeParameterDiscoveryRes from SASchedules to
    DC_EVSEStatus.EVSEStatusCode; None where the schedule holds what a car
    would not need to read (a SalesTariff, absolute time intervals)."""
    if b.read(2) == 0:  # SAScheduleList | SASchedules
        first = True
        while b.read(1 if first else 2) == 0:  # SAScheduleTuple | EE
            first = False
            b.leaf(b.signed)  # SAScheduleTupleID
            b.read(1)  # SE(PMaxSchedule)
            b.leaf(b.signed)  # PMaxScheduleID
            first_entry = True
            while b.read(1 if first_entry else 2) == 0:  # PMaxScheduleEntry | EE
                first_entry = False
                if b.read(2) != 0:  # RelativeTimeInterval | TimeInterval
                    return None
                b.leaf(b.unsigned)  # start
                if b.read(2) == 0:  # duration | EE
                    b.leaf(b.unsigned, 0)
                    b.read(1)
                b.leaf(b.signed)  # PMax
                b.read(1)  # EE PMaxScheduleEntry
            if b.read(2) != 1:  # SalesTariff | EE
                return None
    else:
        b.read(1)  # EE of the empty SASchedules
    if b.read(2) != 1:  # AC_, DC_, EVSEChargeParameter
        return None
    b.read(1)  # SE(DC_EVSEStatus)
    if b.read(2) == 0:  # EVSEIsolationStatus | EVSEStatusCode
        b.leaf(lambda: b.read(2), 0)
        code = b.leaf(lambda: b.read(4))
    else:
        code = b.leaf(lambda: b.read(4), 0)
    return DC_EVSE_STATUS[code] if code < len(DC_EVSE_STATUS) else f"reserved {code}"


# --- V2G over TCP ---

def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise Failed("the charger closed the connection")
        data += chunk
    return data


def exchange(s, ptype, doc):
    s.sendall(bytes([0x01, 0xFE]) + ptype.to_bytes(2, "big") + len(doc).to_bytes(4, "big") + doc)
    head = read_exactly(s, 8)
    if head[:2] != b"\x01\xfe":
        raise Failed(f"answer without a V2GTP header: {head.hex()}")
    return read_exactly(s, int.from_bytes(head[4:8], "big"))


def replay(addr, port, index, reqs, stop_req, delay):
    time.sleep(delay)
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(V2G_ANSWER_TIMEOUT)
    s.connect((addr, port, 0, index))
    sent, sid, end = [], None, "the capture's requests ran out"
    try:
        ptype, sap, think = reqs[0]
        time.sleep(think)
        res = exchange(s, ptype, sap)
        sent.append("supportedAppProtocolReq")
        # supportedAppProtocolRes (2 bits), ResponseCode OK_SuccessfulNegotiation[WithMinorDeviation]
        if res[:1] != b"\x80" or Bits(res, 8).read(2) != 1 or Bits(res, 12).read(2) > 1:
            raise Failed(f"SupportedAppProtocol not agreed: {res.hex()}")
        i = 1
        while i < len(reqs):
            ptype, doc, think = reqs[i]
            if sid is not None:
                doc = splice_session_id(doc, sid)
            name = din_body(doc)[1]
            time.sleep(think)
            res_sid, res_name, code, ongoing, status = din_answer(exchange(s, ptype, doc))
            sent.append(name)
            log(f"V2G: {name} -> {res_name} code {code}" +
                (" Ongoing" if ongoing else "") + (f" {status}" if status else ""))
            if res_name != name[:-3] + "Res":
                raise Failed(f"{name} answered by {res_name}")
            if name == "SessionSetupReq":
                sid = res_sid
                log(f"V2G: the charger's SessionID is {sid.hex()}")
            if code >= DIN_FAILED:
                end = f"{res_name} FAILED (code {code})"
                break
            if status == "EVSE_Shutdown":
                if stop_req is None:
                    raise Failed("EVSE_Shutdown, and no captured SessionStopReq to end with")
                ptype, doc, think = stop_req
                time.sleep(think)
                res_name, code = din_answer(exchange(s, ptype, splice_session_id(doc, sid)))[1:3]
                sent.append("SessionStopReq")
                log(f"V2G: SessionStopReq -> {res_name} code {code}")
                if res_name != "SessionStopRes" or code >= DIN_FAILED:
                    raise Failed(f"SessionStopReq answered by {res_name} code {code}")
                end = "EVSE_Shutdown"
                break
            if name == "SessionStopReq":
                end = "SessionStop"
                break
            if not ongoing:  # on Ongoing the car asks again
                i += 1
    finally:
        s.close()  # the car closes TCP, never the charger
    return sid, sent, end


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--capture", required=True, help="pcap/pcapng of a DIN car's session")
    ap.add_argument("--stop-from", help="a capture of the same car whose session ends with "
                    "SessionStopReq, when --capture's does not")
    args = ap.parse_args()
    try:
        reqs = captured_requests(args.capture)
        more = captured_requests(args.stop_from) if args.stop_from else []
        stops = [r for r in reqs[1:] + more[1:] if din_body(r[1])[1] == "SessionStopReq"]
        stop_req = stops[0] if stops else None
        sdp_delay, connect_delay = captured_pacing(args.capture)
        log(f"{len(reqs)} requests from {args.capture}; SDP {sdp_delay:.1f} s after the match, "
            f"TCP {connect_delay:.1f} s after SDP")
        wire = Wire(args.iface)
        evse_mac, nid, attempts = slac(wire)
        addr, port, index = sdp(args.iface, sdp_delay)
        sid, sent, end = replay(addr, port, index, reqs, stop_req, connect_delay)
    except (Failed, OSError) as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        return 1
    print(json.dumps({"ok": True, "mac": wire.mac, "evse_mac": evse_mac, "nid": nid.hex(),
                      "slac_attempts": attempts,
                      "secc": f"[{addr}]:{port}", "session_id": sid.hex() if sid else "",
                      "sent": sent, "end": end}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
