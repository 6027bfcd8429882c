package capture

import (
	"errors"

	"github.com/ccslink/ccslink/tools/tlsread"
)

// ErrTLSGap: a TLS stream misses bytes, so its records cannot be read.
var ErrTLSGap = errors.New("the TLS stream misses segments: its records cannot be read")

// isTLS reports whether a flow starts with a TLS handshake record.
func (f *tcpFlow) isTLS() bool {
	if !f.syn || len(f.runs) == 0 || f.runs[0].start != 0 {
		return false
	}
	b := f.runs[0].data
	return len(b) >= 2 && b[0] == 0x16 && b[1] == 0x03
}

// decrypt replaces the bytes of each TLS connection the key log has the
// secrets of with its plaintext; the others keep their error.
func (d *decoder) decrypt(keys *tlsread.KeyLog) {
	if keys == nil {
		return
	}
	// The n-th connection of a direction pairs with the n-th of the reverse one.
	byKey := map[flowKey][]*tcpFlow{}
	for _, o := range d.order {
		if o.tcp != nil {
			o.tcp.flush()
			byKey[o.key] = append(byKey[o.key], o.tcp)
		}
	}
	for k, fs := range byKey {
		rev := byKey[flowKey{k.dst, k.src}]
		for i, c := range fs {
			if !c.isTLS() || len(c.runs[0].data) < 6 || c.runs[0].data[5] != 1 { // ClientHello
				continue
			}
			var s *tcpFlow
			if i < len(rev) && rev[i].isTLS() {
				s = rev[i]
			}
			if s == nil || len(c.runs) > 1 || len(s.runs) > 1 {
				c.tlsErr = ErrTLSGap
				if s != nil {
					s.tlsErr = ErrTLSGap
				}
				continue
			}
			conn, err := tlsread.Read(keys, c.runs[0].data, s.runs[0].data)
			c.tlsErr, s.tlsErr = err, err
			if err != nil {
				continue
			}
			v := "1.2"
			if conn.Version == tlsread.VersionTLS13 {
				v = "1.3"
			}
			c.plain(v, conn.Client, conn.ClientRest)
			s.plain(v, conn.Server, conn.ServerRest)
		}
	}
}

// plain replaces the flow's one run with the plaintext of its records,
// each delivered by the frame that ended the record.
func (f *tcpFlow) plain(version string, recs []tlsread.Record, rest int) {
	r := f.runs[0]
	f.tls, f.wire, f.rest = version, len(r.data), rest
	p := run{}
	for _, rec := range recs {
		p.data = append(p.data, rec.Data...)
		p.marks = append(p.marks, mark{len(p.data), r.frameAt(rec.End)})
	}
	f.runs = []run{p}
	if len(p.data) == 0 {
		f.runs = nil
	}
}
