// Package tlsread reads the TLS records of a captured connection with the
// secrets of an NSS key log (the SSLKEYLOGFILE format): TLS 1.2 with
// CLIENT_RANDOM, TLS 1.3 with the handshake and traffic secrets. It reads
// what the charger serves: TLS 1.2 AES-128-CBC-SHA256 and AES-128-GCM-SHA256
// suites, TLS 1.3 AES-128-GCM-SHA256 and AES-256-GCM-SHA384.
package tlsread

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds of a key log: it is user input.
const (
	maxLine    = 1024
	maxEntries = 1 << 16
)

// KeyLog holds the secrets of a key log by client random.
type KeyLog struct {
	secrets map[[32]byte]map[string][]byte
}

// Labels of the NSS key log format that this package uses.
var labels = map[string]bool{
	"CLIENT_RANDOM":                   true,
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET": true,
	"SERVER_HANDSHAKE_TRAFFIC_SECRET": true,
	"CLIENT_TRAFFIC_SECRET_0":         true,
	"SERVER_TRAFFIC_SECRET_0":         true,
}

// ErrKeyLog: a key log file holds no usable line.
var ErrKeyLog = errors.New("no TLS secret in the key log (NSS key log format: LABEL CLIENT_RANDOM_HEX SECRET_HEX per line)")

// ReadKeyLog reads a key log. Lines it does not know (comments, labels it
// has no use for, other text) are skipped, as a key log may be part of a
// longer file; a log with no usable line is ErrKeyLog.
func ReadKeyLog(r io.Reader) (*KeyLog, error) {
	k := &KeyLog{secrets: map[[32]byte]map[string][]byte{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k.Add(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the key log: %w", err)
	}
	if k.Len() == 0 {
		return nil, ErrKeyLog
	}
	return k, nil
}

// Add takes one line of a key log; it reports whether the line was used.
func (k *KeyLog) Add(line string) bool {
	if k.secrets == nil {
		k.secrets = map[[32]byte]map[string][]byte{}
	}
	if len(line) > maxLine || k.Len() >= maxEntries {
		return false
	}
	f := strings.Fields(line)
	if len(f) != 3 || !labels[f[0]] || len(f[1]) != 64 {
		return false
	}
	cr, err1 := hex.DecodeString(f[1])
	s, err2 := hex.DecodeString(f[2])
	if err1 != nil || err2 != nil || len(s) == 0 || len(s) > 64 {
		return false
	}
	var key [32]byte
	copy(key[:], cr)
	m := k.secrets[key]
	if m == nil {
		m = map[string][]byte{}
		k.secrets[key] = m
	}
	m[f[0]] = s
	return true
}

// Len returns how many sessions the log has secrets for.
func (k *KeyLog) Len() int { return len(k.secrets) }

func (k *KeyLog) secret(random [32]byte, label string) []byte {
	if k == nil {
		return nil
	}
	return k.secrets[random][label]
}
