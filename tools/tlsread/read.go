package tlsread

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// TLS versions as the wire writes them.
const (
	VersionTLS12 = 0x0303
	VersionTLS13 = 0x0304
)

// Record types.
const (
	typeCCS       = 20
	typeAlert     = 21
	typeHandshake = 22
	typeAppData   = 23
)

// maxRecord bounds a record's body: 2^14 plus the most any suite adds.
const maxRecord = 1<<14 + 2048

// Record is the plaintext of one application data record.
type Record struct {
	End  int    // offset in its direction's stream just past the record
	Data []byte // its plaintext
}

// Conn is what one TLS connection carried.
type Conn struct {
	Version      uint16 // VersionTLS12 or VersionTLS13
	Suite        uint16
	ClientRandom [32]byte
	// Client and Server are the application data each side sent, in order.
	Client, Server []Record
	// ClientRest and ServerRest count the bytes at the end of each stream
	// that hold no whole record: the capture ends inside one.
	ClientRest, ServerRest int
}

// Dir names a direction of the connection.
type Dir string

// Directions.
const (
	FromClient Dir = "client"
	FromServer Dir = "server"
)

// ErrNotTLS: a stream does not start with a TLS handshake.
var ErrNotTLS = errors.New("the stream does not start with a TLS handshake")

// MalformedError reports TLS bytes that cannot be read.
type MalformedError struct {
	Dir    Dir
	Offset int // in its direction's stream
	What   string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed TLS from the %s at byte %d: %s", e.Dir, e.Offset, e.What)
}

// NoKeyError: the key log has no secret for the connection.
type NoKeyError struct {
	ClientRandom [32]byte
	Label        string // the secret missing
}

func (e *NoKeyError) Error() string {
	return fmt.Sprintf("no key for this TLS session (%s of client random %x)", e.Label, e.ClientRandom[:8])
}

// SuiteError: the connection uses a cipher suite this package does not read.
type SuiteError struct {
	Version, Suite uint16
}

func (e *SuiteError) Error() string {
	return fmt.Sprintf("cipher suite 0x%04x is not read (TLS 1.2: the ECDHE AES-CBC, AES-GCM and ChaCha20-Poly1305 suites; TLS 1.3: all three of its suites)", e.Suite)
}

// DecryptError: a record does not decrypt with the key log's secret.
type DecryptError struct {
	Dir    Dir
	Record int // index among the direction's encrypted records
}

func (e *DecryptError) Error() string {
	return fmt.Sprintf("encrypted record %d from the %s does not decrypt with the key log's secret: the key log belongs to another session or the capture misses bytes", e.Record+1, e.Dir)
}

// rec is one record of a stream.
type rec struct {
	typ  byte
	hdr  []byte // the 5-byte header
	body []byte
	end  int
}

// records cuts b into records; rest counts the bytes of an unfinished one.
func records(b []byte, dir Dir) (rs []rec, rest int, err error) {
	off := 0
	for off < len(b) {
		if len(b)-off < 5 {
			return rs, len(b) - off, nil
		}
		h := b[off : off+5]
		n := int(binary.BigEndian.Uint16(h[3:]))
		if h[0] < typeCCS || h[0] > typeAppData+1 || h[1] != 3 || n > maxRecord {
			return rs, 0, &MalformedError{dir, off, fmt.Sprintf("bad record header % x", h)}
		}
		if len(b)-off-5 < n {
			return rs, len(b) - off, nil
		}
		rs = append(rs, rec{typ: h[0], hdr: h, body: b[off+5 : off+5+n], end: off + 5 + n})
		off += 5 + n
	}
	return rs, 0, nil
}

// Read reads one TLS connection: client and server are the bytes each side
// sent, from the first. keys may be nil: the handshake is still read, and
// the error is a *NoKeyError. A Conn is returned with what could be read
// whenever the handshake could.
func Read(keys *KeyLog, client, server []byte) (*Conn, error) {
	crs, crest, err := records(client, FromClient)
	if err != nil {
		return nil, err
	}
	srs, srest, err := records(server, FromServer)
	if err != nil {
		return nil, err
	}
	c := &Conn{ClientRest: crest, ServerRest: srest}
	if len(crs) == 0 || crs[0].typ != typeHandshake || len(crs[0].body) < 38 || crs[0].body[0] != 1 {
		return nil, ErrNotTLS
	}
	copy(c.ClientRandom[:], crs[0].body[6:38])
	sh, err := serverHello(srs)
	if err != nil {
		return nil, err
	}
	c.Version, c.Suite = sh.version, sh.suite
	if c.Version == VersionTLS13 {
		err = c.read13(keys, crs, srs)
	} else {
		err = c.read12(keys, crs, srs, sh.random)
	}
	return c, err
}

type hello struct {
	version, suite uint16
	random         []byte
}

// serverHello parses the ServerHello, which must fill the server's first record.
func serverHello(srs []rec) (hello, error) {
	bad := func(what string) (hello, error) { return hello{}, &MalformedError{FromServer, 0, what} }
	if len(srs) == 0 {
		return bad("no ServerHello")
	}
	b := srs[0].body
	if srs[0].typ != typeHandshake || len(b) < 4 || b[0] != 2 {
		return bad("the first record is no ServerHello")
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > len(b)-4 {
		return bad("the ServerHello spans records")
	}
	b = b[4 : 4+n]
	if len(b) < 35 {
		return bad("short ServerHello")
	}
	h := hello{version: binary.BigEndian.Uint16(b), random: b[2:34]}
	sid := int(b[34])
	b = b[35:]
	if len(b) < sid+3 {
		return bad("short ServerHello")
	}
	h.suite = binary.BigEndian.Uint16(b[sid:])
	b = b[sid+3:]
	if len(b) >= 2 {
		el := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if el > len(b) {
			return bad("ServerHello extensions overrun it")
		}
		b = b[:el]
		for len(b) >= 4 {
			t, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
			if l > len(b)-4 {
				return bad("ServerHello extension overruns it")
			}
			if t == 0x002b && l == 2 { // supported_versions
				h.version = binary.BigEndian.Uint16(b[4:])
			}
			b = b[4+l:]
		}
	}
	if h.version != VersionTLS12 && h.version != VersionTLS13 {
		return bad(fmt.Sprintf("version 0x%04x: only TLS 1.2 and 1.3 are read", h.version))
	}
	return h, nil
}

// suite13 returns the hash, AEAD key length and AEAD of a TLS 1.3 suite.
func suite13(s uint16) (func() hash.Hash, int, func([]byte) opener, bool) {
	switch s {
	case 0x1301:
		return sha256.New, 16, newGCM, true
	case 0x1302:
		return sha512.New384, 32, newGCM, true
	case 0x1303:
		return sha256.New, 32, newChaCha20Poly1305, true
	}
	return nil, 0, nil, false
}

func newGCM(key []byte) opener {
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	return g
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	info := make([]byte, 0, 4+6+len(label))
	info = append(info, byte(n>>8), byte(n), byte(6+len(label)))
	info = append(info, "tls13 "+label...)
	info = append(info, 0)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err) // n is a key length: never too long
	}
	return out
}

// aead13 is one direction's record protection under one secret.
type aead13 struct {
	h       func() hash.Hash
	keyLen  int
	newAEAD func([]byte) opener
	secret  []byte
	aead    opener
	iv      []byte
	seq     uint64
}

func (a *aead13) set(secret []byte) {
	a.secret, a.seq = secret, 0
	a.aead = a.newAEAD(expandLabel(a.h, secret, "key", a.keyLen))
	a.iv = expandLabel(a.h, secret, "iv", 12)
}

func (a *aead13) open(r rec) ([]byte, bool) {
	nonce := make([]byte, 12)
	copy(nonce, a.iv)
	for i := range 8 {
		nonce[4+i] ^= byte(a.seq >> (56 - 8*i))
	}
	a.seq++
	p, err := a.aead.Open(nil, nonce, r.body, r.hdr)
	return p, err == nil
}

// hsTracker follows handshake message boundaries across records.
type hsTracker struct {
	hdr  []byte
	left int
}

// feed reports the types of the handshake messages that end in p.
func (t *hsTracker) feed(p []byte, done func(typ byte)) {
	for len(p) > 0 {
		if t.left > 0 {
			n := min(t.left, len(p))
			t.left -= n
			p = p[n:]
			if t.left == 0 {
				done(t.hdr[0])
				t.hdr = t.hdr[:0]
			}
			continue
		}
		need := 4 - len(t.hdr)
		n := min(need, len(p))
		t.hdr = append(t.hdr, p[:n]...)
		p = p[n:]
		if len(t.hdr) == 4 {
			t.left = int(t.hdr[1])<<16 | int(t.hdr[2])<<8 | int(t.hdr[3])
			if t.left == 0 {
				done(t.hdr[0])
				t.hdr = t.hdr[:0]
			}
		}
	}
}

func (c *Conn) read13(keys *KeyLog, crs, srs []rec) error {
	h, keyLen, newAEAD, ok := suite13(c.Suite)
	if !ok {
		return &SuiteError{c.Version, c.Suite}
	}
	for _, d := range []struct {
		dir     Dir
		rs      []rec
		hs, app string
		out     *[]Record
	}{
		{FromClient, crs, "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", &c.Client},
		{FromServer, srs, "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0", &c.Server},
	} {
		hsSecret, appSecret := keys.secret(c.ClientRandom, d.hs), keys.secret(c.ClientRandom, d.app)
		a := &aead13{h: h, keyLen: keyLen, newAEAD: newAEAD}
		appPhase := false
		if hsSecret == nil {
			if !hasType(d.rs, typeAppData) {
				continue
			}
			return &NoKeyError{c.ClientRandom, d.hs}
		}
		a.set(hsSecret)
		var t hsTracker
		n := 0
		for ri, r := range d.rs {
			if r.typ != typeAppData {
				continue // plaintext: the hellos, the compatibility ChangeCipherSpec
			}
			p, ok := a.open(r)
			if !ok {
				return &DecryptError{d.dir, n}
			}
			n++
			i := len(p) - 1
			for i >= 0 && p[i] == 0 {
				i--
			}
			if i < 0 {
				return &MalformedError{d.dir, r.end, "encrypted record with no content type"}
			}
			typ, p := p[i], p[:i]
			switch typ {
			case typeAppData:
				*d.out = append(*d.out, Record{End: r.end, Data: p})
			case typeHandshake:
				var next []byte
				t.feed(p, func(m byte) {
					switch {
					case m == 20 && !appPhase: // Finished
						next = appSecret
						if next == nil {
							next = []byte{}
						}
					case m == 24 && appPhase: // KeyUpdate
						next = expandLabel(h, a.secret, "traffic upd", len(a.secret))
					}
				})
				if next != nil {
					if len(next) == 0 {
						if hasType(d.rs[ri+1:], typeAppData) {
							return &NoKeyError{c.ClientRandom, d.app}
						}
						break
					}
					appPhase = true
					a.set(next)
				}
			}
		}
	}
	return nil
}

func hasType(rs []rec, typ byte) bool {
	for _, r := range rs {
		if r.typ == typ {
			return true
		}
	}
	return false
}

// suite12 describes a TLS 1.2 suite.
type suite12 struct {
	prf    func() hash.Hash
	mac    func() hash.Hash // nil for GCM
	macLen int
	keyLen int
	gcm    bool
	chacha bool // ChaCha20-Poly1305: a 12-byte IV, no explicit nonce
}

var suites12 = map[uint16]suite12{
	0xC023: {sha256.New, sha256.New, 32, 16, false, false}, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
	0xC025: {sha256.New, sha256.New, 32, 16, false, false}, // ECDH_ECDSA_WITH_AES_128_CBC_SHA256
	0xC027: {sha256.New, sha256.New, 32, 16, false, false}, // ECDHE_RSA_WITH_AES_128_CBC_SHA256
	0xC029: {sha256.New, sha256.New, 32, 16, false, false}, // ECDH_RSA_WITH_AES_128_CBC_SHA256
	0x003C: {sha256.New, sha256.New, 32, 16, false, false}, // RSA_WITH_AES_128_CBC_SHA256
	0xC009: {sha256.New, sha1.New, 20, 16, false, false},   // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	0xC00A: {sha256.New, sha1.New, 20, 32, false, false},   // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
	0xC013: {sha256.New, sha1.New, 20, 16, false, false},   // ECDHE_RSA_WITH_AES_128_CBC_SHA
	0xC014: {sha256.New, sha1.New, 20, 32, false, false},   // ECDHE_RSA_WITH_AES_256_CBC_SHA
	0xC02B: {sha256.New, nil, 0, 16, true, false},          // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	0xC02F: {sha256.New, nil, 0, 16, true, false},          // ECDHE_RSA_WITH_AES_128_GCM_SHA256
	0xC02D: {sha256.New, nil, 0, 16, true, false},          // ECDH_ECDSA_WITH_AES_128_GCM_SHA256
	0xC02C: {sha512.New384, nil, 0, 32, true, false},       // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	0xC030: {sha512.New384, nil, 0, 32, true, false},       // ECDHE_RSA_WITH_AES_256_GCM_SHA384
	0xCCA9: {sha256.New, nil, 0, 32, true, true},           // ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
	0xCCA8: {sha256.New, nil, 0, 32, true, true},           // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
}

// prf12 is TLS 1.2's PRF: P_hash(secret, label + seed), n bytes.
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	mac.Write(ls)
	a := mac.Sum(nil)
	var out []byte
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(ls)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(nil)
	}
	return out[:n]
}

// dir12 is one direction's record protection under TLS 1.2.
type dir12 struct {
	s      suite12
	macKey []byte
	blk    cipher.Block
	gcm    opener
	iv     []byte // GCM's implicit part, ChaCha20's whole IV
	seq    uint64
}

func (d *dir12) open(r rec) ([]byte, bool) {
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], d.seq)
	d.seq++
	b := r.body
	if d.s.chacha {
		if len(b) < 16 {
			return nil, false
		}
		nonce := bytes.Clone(d.iv)
		for i := range 8 {
			nonce[4+i] ^= seq[i]
		}
		ad := append(seq[:], r.hdr[0], r.hdr[1], r.hdr[2], 0, 0)
		binary.BigEndian.PutUint16(ad[11:], uint16(len(b)-16))
		p, err := d.gcm.Open(nil, nonce, b, ad)
		return p, err == nil
	}
	if d.s.gcm {
		if len(b) < 8+16 {
			return nil, false
		}
		nonce := append(append([]byte(nil), d.iv...), b[:8]...)
		ad := append(seq[:], r.hdr[0], r.hdr[1], r.hdr[2], 0, 0)
		binary.BigEndian.PutUint16(ad[11:], uint16(len(b)-8-16))
		p, err := d.gcm.Open(nil, nonce, b[8:], ad)
		return p, err == nil
	}
	bs := d.blk.BlockSize()
	if len(b) < 2*bs || len(b)%bs != 0 {
		return nil, false
	}
	p := make([]byte, len(b)-bs)
	cipher.NewCBCDecrypter(d.blk, b[:bs]).CryptBlocks(p, b[bs:])
	pad := int(p[len(p)-1])
	if pad+1+d.s.macLen > len(p) {
		return nil, false
	}
	for _, v := range p[len(p)-1-pad:] {
		if int(v) != pad {
			return nil, false
		}
	}
	p = p[:len(p)-1-pad]
	content, tag := p[:len(p)-d.s.macLen], p[len(p)-d.s.macLen:]
	m := hmac.New(d.s.mac, d.macKey)
	m.Write(seq[:])
	m.Write(r.hdr[:3])
	m.Write([]byte{byte(len(content) >> 8), byte(len(content))})
	m.Write(content)
	return content, hmac.Equal(m.Sum(nil), tag)
}

func (c *Conn) read12(keys *KeyLog, crs, srs []rec, serverRandom []byte) error {
	s, ok := suites12[c.Suite]
	if !ok {
		return &SuiteError{c.Version, c.Suite}
	}
	master := keys.secret(c.ClientRandom, "CLIENT_RANDOM")
	if master == nil {
		if hasType(crs, typeCCS) || hasType(srs, typeCCS) {
			return &NoKeyError{c.ClientRandom, "CLIENT_RANDOM"}
		}
		return nil
	}
	ivLen := 0
	if s.gcm {
		ivLen = 4
	}
	if s.chacha {
		ivLen = 12
	}
	kb := prf12(s.prf, master, "key expansion", append(append([]byte(nil), serverRandom...), c.ClientRandom[:]...), 2*(s.macLen+s.keyLen+ivLen))
	take := func(n int) []byte { b := kb[:n]; kb = kb[n:]; return b }
	cm, sm := take(s.macLen), take(s.macLen)
	ck, sk := take(s.keyLen), take(s.keyLen)
	civ, siv := take(ivLen), take(ivLen)
	for _, d := range []struct {
		dir    Dir
		rs     []rec
		mac, k []byte
		iv     []byte
		out    *[]Record
	}{{FromClient, crs, cm, ck, civ, &c.Client}, {FromServer, srs, sm, sk, siv, &c.Server}} {
		p := &dir12{s: s, macKey: d.mac, iv: d.iv}
		switch {
		case s.chacha:
			p.gcm = newChaCha20Poly1305(d.k)
		case s.gcm:
			p.gcm = newGCM(d.k)
		default:
			p.blk, _ = aes.NewCipher(d.k)
		}
		on, n := false, 0
		for _, r := range d.rs {
			if !on {
				on = r.typ == typeCCS
				continue
			}
			if r.typ == typeCCS {
				return &MalformedError{d.dir, r.end, "renegotiation is not read"}
			}
			pt, ok := p.open(r)
			if !ok {
				return &DecryptError{d.dir, n}
			}
			n++
			if r.typ == typeAppData {
				*d.out = append(*d.out, Record{End: r.end, Data: pt})
			}
		}
	}
	return nil
}
