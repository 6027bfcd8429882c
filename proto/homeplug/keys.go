package homeplug

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// NMK is a network membership key: the AES-128 key of a private HomePlug
// network (AVLN). It deliberately has no String method, so %v does not print
// it as a readable key by accident.
type NMK [16]byte

// NID is a network identifier, derived from the NMK.
type NID [7]byte

// String formats n as hex.
func (n NID) String() string { return hex.EncodeToString(n[:]) }

// Security levels of a NID (HomePlug AV); ISO 15118-3 uses SimpleConnect.
const (
	SimpleConnect uint8 = 0
	SecureLevel   uint8 = 1
)

// nidRehash is the number of SHA-256 rounds after the first (HomePlug AV; 5 in all).
const nidRehash = 4

// NewNMK returns 16 fresh random bytes from crypto/rand: a new key per session.
func NewNMK() NMK {
	var k NMK
	rand.Read(k[:]) // crypto/rand.Read never fails; it aborts the program instead.
	return k
}

// DeriveNID computes the NID of nmk the HomePlug AV way: SHA-256 over the NMK,
// re-hashed 4 more times; the NID is the first 52 bits of the digest (the
// last 4 in the low nibble of byte 6), with the security level (2 bits,
// masked) in bits 4-5 of byte 6.
func DeriveNID(nmk NMK, securityLevel uint8) NID {
	d := sha256.Sum256(nmk[:])
	for range nidRehash {
		d = sha256.Sum256(d[:])
	}
	var n NID
	copy(n[:], d[:len(n)])
	n[6] = (securityLevel&3)<<4 | d[6]>>4
	return n
}

// NID returns the NID of k at security level SimpleConnect, as ISO 15118-3 uses it.
func (k NMK) NID() NID { return DeriveNID(k, SimpleConnect) }
