// Package homeplug encodes and decodes HomePlug Green PHY management
// messages (MMEs): the SLAC messages of ISO 15118-3, CM_SET_KEY, and the
// Qualcomm vendor messages a charger uses to talk to its QCA7000 modem.
//
// A frame is an Ethernet header (ethertype 0x88E1), the MME header (MMV,
// little-endian MMTYPE, and for MMV 1.1 and later the fragmentation fields
// FMI/FMSN; vendor messages then carry an OUI) and the message payload.
// Frames are padded to the 60-byte Ethernet minimum.
//
// Decode turns a frame into a Frame: a Header and a typed Message such as
// *SlacParmReq. Messages this package does not model (and fragments) decode
// to *RawMessage, so every HomePlug frame decodes and encodes back. Byte
// slices in decoded messages alias the frame: copy them to keep them after
// the frame's buffer is reused.
//
// AppendFrame is the mirror of Decode: it appends a padded frame to a
// caller's buffer and does not allocate. Hot paths can skip the Message
// interface entirely with DecodeHeader and the messages' own DecodePayload
// and AppendPayload methods.
//
// NewNMK draws a fresh network membership key from crypto/rand and DeriveNID
// computes the network identifier that belongs to it (HomePlug AV).
//
// Field names follow ISO 15118-3 (RunID, NumSounds, PEVMAC, EVSEMAC, NID,
// NMK, ...) so the code can be checked against the standard line by line.
package homeplug
