package exi

import (
	"encoding/hex"
	"errors"
)

// Bytes is the Go type of xs:hexBinary and xs:base64Binary values. It is a
// plain byte slice that marshals to JSON as a lowercase hex string.
type Bytes []byte

// MarshalText returns the value as lowercase hex.
func (b Bytes) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(b)))
	hex.Encode(out, b)
	return out, nil
}

// UnmarshalText parses hex (either case).
func (b *Bytes) UnmarshalText(text []byte) error {
	out := make([]byte, hex.DecodedLen(len(text)))
	if _, err := hex.Decode(out, text); err != nil {
		return errors.New("exi: binary value is not hex: " + err.Error())
	}
	*b = out
	return nil
}
