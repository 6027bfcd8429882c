package tlsread

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
)

// ChaCha20-Poly1305 (RFC 8439), decryption only. The standard library
// keeps its own internal; this one serves captures, offline, where speed
// does not matter: Poly1305 is done with math/big.

var errAuth = errors.New("message authentication failed")

// opener is the part of cipher.AEAD that reading needs.
type opener interface {
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

type chacha20poly1305 struct{ key [32]byte }

func quarter(s *[16]uint32, a, b, c, d int) {
	s[a] += s[b]
	s[d] = bits.RotateLeft32(s[d]^s[a], 16)
	s[c] += s[d]
	s[b] = bits.RotateLeft32(s[b]^s[c], 12)
	s[a] += s[b]
	s[d] = bits.RotateLeft32(s[d]^s[a], 8)
	s[c] += s[d]
	s[b] = bits.RotateLeft32(s[b]^s[c], 7)
}

// block writes the ChaCha20 block of a key, counter and nonce to out.
func block(key *[32]byte, counter uint32, nonce []byte, out *[64]byte) {
	var s, x [16]uint32
	s[0], s[1], s[2], s[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	for i := range 8 {
		s[4+i] = binary.LittleEndian.Uint32(key[4*i:])
	}
	s[12] = counter
	for i := range 3 {
		s[13+i] = binary.LittleEndian.Uint32(nonce[4*i:])
	}
	x = s
	for range 10 {
		quarter(&x, 0, 4, 8, 12)
		quarter(&x, 1, 5, 9, 13)
		quarter(&x, 2, 6, 10, 14)
		quarter(&x, 3, 7, 11, 15)
		quarter(&x, 0, 5, 10, 15)
		quarter(&x, 1, 6, 11, 12)
		quarter(&x, 2, 7, 8, 13)
		quarter(&x, 3, 4, 9, 14)
	}
	for i := range 16 {
		binary.LittleEndian.PutUint32(out[4*i:], x[i]+s[i])
	}
}

var (
	p1305   = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 130), big.NewInt(5))
	clamp   = new(big.Int).SetBytes([]byte{0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xfc, 0x0f, 0xff, 0xff, 0xff})
	mask128 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	one1305 = big.NewInt(1)
)

// leInt reads b as a little-endian number.
func leInt(b []byte) *big.Int {
	r := make([]byte, len(b))
	for i, v := range b {
		r[len(b)-1-i] = v
	}
	return new(big.Int).SetBytes(r)
}

// poly1305 returns the tag of msg under a one-time key.
func poly1305(key []byte, msg []byte) [16]byte {
	r := new(big.Int).And(leInt(key[:16]), clamp)
	s := leInt(key[16:32])
	acc := new(big.Int)
	for len(msg) > 0 {
		n := min(16, len(msg))
		c := leInt(msg[:n])
		c.Add(c, new(big.Int).Lsh(one1305, uint(8*n)))
		acc.Add(acc, c)
		acc.Mul(acc, r)
		acc.Mod(acc, p1305)
		msg = msg[n:]
	}
	acc.Add(acc, s)
	acc.And(acc, mask128)
	var tag [16]byte
	be := acc.FillBytes(make([]byte, 16))
	for i := range 16 {
		tag[i] = be[15-i]
	}
	return tag
}

func pad16(b []byte) []byte {
	if n := len(b) % 16; n != 0 {
		b = append(b, make([]byte, 16-n)...)
	}
	return b
}

func (c *chacha20poly1305) Open(dst, nonce, ct, ad []byte) ([]byte, error) {
	if len(nonce) != 12 || len(ct) < 16 {
		return nil, errAuth
	}
	ct, tag := ct[:len(ct)-16], ct[len(ct)-16:]
	var ks [64]byte
	block(&c.key, 0, nonce, &ks)
	mac := pad16(append([]byte(nil), ad...))
	mac = pad16(append(mac, ct...))
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(ad)))
	mac = binary.LittleEndian.AppendUint64(mac, uint64(len(ct)))
	want := poly1305(ks[:32], mac)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		return nil, errAuth
	}
	out := make([]byte, len(ct))
	for i := 0; i < len(ct); i += 64 {
		block(&c.key, uint32(1+i/64), nonce, &ks)
		for j := i; j < min(i+64, len(ct)); j++ {
			out[j] = ct[j] ^ ks[j-i]
		}
	}
	return append(dst, out...), nil
}

func newChaCha20Poly1305(key []byte) opener {
	c := &chacha20poly1305{}
	copy(c.key[:], key)
	return c
}
