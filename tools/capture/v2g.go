package capture

import (
	"cmp"
	"container/heap"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/proto/v2gtp"
	"github.com/ccslink/ccslink/tools/tlsread"
)

// SDPPort is the UDP port of the SECC Discovery Protocol.
const SDPPort = 15118

// Message is one V2GTP message found in a capture.
type Message struct {
	Time      time.Time      // when its last byte was captured
	Frame     int            // index in the frames of the frame with its last byte
	Src, Dst  netip.AddrPort // sender and receiver
	Transport string         // "tcp" or "udp"
	Header    v2gtp.Header
	Payload   []byte
}

// Stream reports on one direction of a TCP connection, or on the SDP
// datagrams from one address to another, that carried payload.
type Stream struct {
	Src, Dst  netip.AddrPort
	Transport string // "tcp" or "udp"
	Bytes     int    // payload bytes; retransmitted bytes count once
	Messages  int    // V2GTP messages cut from them
	Gaps      int    // holes in the TCP sequence the capture never filled
	Skipped   int    // bytes outside any whole V2GTP message
	Reason    string // why bytes were skipped, first reason only; "" if none
	// TLS is "1.2" or "1.3" when the stream was TLS and was read with a
	// key log; its messages are then the decrypted ones.
	TLS string
	// TLSErr says why a TLS stream (Reason ReasonTLS) could not be read:
	// a tlsread error, or nil when no key log was given.
	TLSErr error
}

// Reasons for skipped bytes, as Stream.Reason reports them.
const (
	ReasonTLS       = "TLS"              // the stream starts with a TLS record
	ReasonNotV2GTP  = "not V2GTP"        // the stream starts with something else
	ReasonGap       = "gap"              // bytes around a hole in the sequence
	ReasonTruncated = "truncated"        // the capture ends inside a message
	ReasonBadHeader = "bad V2GTP header" // a header in mid-stream is invalid
)

// V2GTP returns the V2GTP messages in frames: SDP datagrams to or from UDP
// port 15118, and the messages of every TCP stream that carries V2GTP,
// reassembled per direction. Messages are in the order their last byte was
// captured; payloads are copies, independent of frames. The streams list
// every TCP direction and SDP flow with payload, in order of appearance,
// with what could not be decoded.
func V2GTP(frames []Frame) ([]Message, []Stream) {
	return V2GTPKeys(frames, nil)
}

// V2GTPKeys is V2GTP that also reads TLS streams with the secrets of keys
// (nil: TLS streams are reported, not read).
func V2GTPKeys(frames []Frame, keys *tlsread.KeyLog) ([]Message, []Stream) {
	var d decoder
	d.flows = map[flowKey]*tcpFlow{}
	d.udp = map[flowKey]*Stream{}
	for i, f := range frames {
		d.frame(i, f.Data)
	}
	d.decrypt(keys)
	var msgs []Message
	var streams []Stream
	for _, s := range d.order {
		if s.tcp == nil {
			streams = append(streams, *d.udp[s.key])
			continue
		}
		if st, ok := s.tcp.split(&msgs); ok {
			streams = append(streams, st)
		}
	}
	msgs = append(msgs, d.udpMsgs...)
	slices.SortStableFunc(msgs, func(a, b Message) int { return cmp.Compare(a.Frame, b.Frame) })
	for i := range msgs {
		msgs[i].Time = frames[msgs[i].Frame].Time
	}
	return msgs, streams
}

type flowKey struct{ src, dst netip.AddrPort }

// decoder holds the state of one V2GTP call.
type decoder struct {
	eth    layers.Ethernet
	vlan   layers.Dot1Q
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	udpL   layers.UDP
	parser *gopacket.DecodingLayerParser
	layers []gopacket.LayerType

	flows   map[flowKey]*tcpFlow // the current connection of each direction
	udp     map[flowKey]*Stream
	udpMsgs []Message
	order   []flowRef // TCP directions and UDP flows in order of appearance
}

type flowRef struct {
	key flowKey
	tcp *tcpFlow // nil for UDP
}

// frame decodes frame i down to TCP or UDP and passes on what it carries.
func (d *decoder) frame(i int, data []byte) {
	if d.parser == nil {
		d.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &d.eth, &d.vlan, &d.ip4, &d.ip6, &d.tcp, &d.udpL)
		d.parser.IgnoreUnsupported = true
	}
	_ = d.parser.DecodeLayers(data, &d.layers) // a broken upper layer just leaves it out
	var src, dst netip.Addr
	for _, lt := range d.layers {
		switch lt {
		case layers.LayerTypeIPv4:
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				return // fragments are not reassembled; V2G never sends any
			}
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
		case layers.LayerTypeTCP:
			if !src.IsValid() {
				return
			}
			k := flowKey{netip.AddrPortFrom(src, uint16(d.tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(d.tcp.DstPort))}
			d.tcpSegment(k, i)
		case layers.LayerTypeUDP:
			if !src.IsValid() || (d.udpL.SrcPort != SDPPort && d.udpL.DstPort != SDPPort) {
				return
			}
			k := flowKey{netip.AddrPortFrom(src, uint16(d.udpL.SrcPort)), netip.AddrPortFrom(dst, uint16(d.udpL.DstPort))}
			d.datagram(k, i, d.udpL.Payload)
		}
	}
}

// tcpSegment hands the TCP segment just decoded from frame i to its flow.
func (d *decoder) tcpSegment(k flowKey, i int) {
	f := d.flows[k]
	if f != nil && d.tcp.SYN && f.newConnection(d.tcp.Seq) {
		f = nil
	}
	if f == nil {
		f = &tcpFlow{key: k}
		d.flows[k] = f
		d.order = append(d.order, flowRef{key: k, tcp: f})
	}
	f.segment(d.tcp.Seq, d.tcp.SYN, d.tcp.Payload, i)
}

// datagram splits the payload of one SDP datagram, from frame i.
func (d *decoder) datagram(k flowKey, i int, p []byte) {
	if len(p) == 0 {
		return
	}
	s := d.udp[k]
	if s == nil {
		s = &Stream{Src: k.src, Dst: k.dst, Transport: "udp"}
		d.udp[k] = s
		d.order = append(d.order, flowRef{key: k})
	}
	s.Bytes += len(p)
	for len(p) > 0 {
		h, payload, rest, err := v2gtp.Split(p)
		if err != nil {
			s.skip(len(p), ReasonNotV2GTP)
			return
		}
		d.udpMsgs = append(d.udpMsgs, Message{
			Frame: i, Src: k.src, Dst: k.dst, Transport: "udp",
			Header: h, Payload: slices.Clone(payload),
		})
		s.Messages++
		p = rest
	}
}

// skip counts n bytes that are not part of a message.
func (s *Stream) skip(n int, reason string) {
	s.Skipped += n
	if s.Reason == "" {
		s.Reason = reason
	}
}

// tcpFlow reassembles one direction of one TCP connection, as a receiver
// would: bytes are delivered in sequence order, each once.
type tcpFlow struct {
	key     flowKey
	tls     string // "1.2" or "1.3": runs hold the decrypted bytes
	tlsErr  error
	wire    int    // bytes on the wire, for a decrypted flow
	rest    int    // bytes of a record the capture ends inside
	started bool   // next and nextSeq are known
	syn     bool   // offset 0 is the first byte after the SYN
	isn     uint32 // the SYN's sequence number
	nextSeq uint32 // sequence number of the next byte to deliver
	next    int64  // stream offset of that byte
	runs    []run  // delivered bytes, one run per stretch without holes
	pending segHeap
	last    int // frame of the latest delivery, so frames never go back
}

// run is a stretch of contiguous stream bytes.
type run struct {
	start int64  // stream offset of data[0]
	data  []byte // its bytes
	marks []mark // where each delivery ended, in order
}

// mark records that bytes up to run offset end were delivered by frame.
type mark struct{ end, frame int }

type segment struct {
	off   int64
	data  []byte
	frame int
}

// newConnection reports whether a SYN with sequence number seq opens a new
// connection on a 4-tuple that already carried data.
func (f *tcpFlow) newConnection(seq uint32) bool {
	return len(f.runs)+f.pending.Len() > 0 && (!f.syn || seq != f.isn)
}

// segment takes one TCP segment: delivers it, or keeps it until the bytes
// before it arrive.
func (f *tcpFlow) segment(seq uint32, syn bool, p []byte, frame int) {
	if syn {
		if !f.started || len(f.runs)+f.pending.Len() == 0 {
			f.started, f.syn, f.isn, f.nextSeq, f.next = true, true, seq, seq+1, 0
		}
		seq++ // the SYN takes one sequence number
	}
	if len(p) == 0 {
		return
	}
	if !f.started {
		// The capture missed the start: number the stream from here.
		f.started, f.nextSeq, f.next = true, seq, 0
	}
	off := f.next + int64(int32(seq-f.nextSeq))
	if off > f.next {
		heap.Push(&f.pending, segment{off, p, frame})
		return
	}
	f.deliver(off, p, frame)
	f.drain()
}

// deliver appends the bytes of p beyond f.next; p starts at stream offset
// off <= f.next.
func (f *tcpFlow) deliver(off int64, p []byte, frame int) {
	if skip := f.next - off; skip < int64(len(p)) {
		p = p[skip:]
	} else {
		return // a retransmission of bytes already delivered
	}
	if len(f.runs) == 0 || f.runs[len(f.runs)-1].end() != f.next {
		f.runs = append(f.runs, run{start: f.next})
	}
	r := &f.runs[len(f.runs)-1]
	r.data = append(r.data, p...)
	f.last = max(f.last, frame)
	r.marks = append(r.marks, mark{len(r.data), f.last})
	f.next += int64(len(p))
	f.nextSeq += uint32(len(p))
}

func (r *run) end() int64 { return r.start + int64(len(r.data)) }

// drain delivers the pending segments that have become contiguous.
func (f *tcpFlow) drain() {
	for f.pending.Len() > 0 && f.pending[0].off <= f.next {
		s := heap.Pop(&f.pending).(segment)
		f.deliver(s.off, s.data, s.frame)
	}
}

// flush delivers what is still pending at the end of the capture: the
// capture never filled the holes before it, so each starts a new run.
func (f *tcpFlow) flush() {
	for f.pending.Len() > 0 {
		gap := f.pending[0].off - f.next
		f.next += gap
		f.nextSeq += uint32(gap)
		f.drain()
	}
}

// split cuts the flow's runs into messages, appended to msgs, and reports
// on the flow; ok is false when the flow carried no payload.
func (f *tcpFlow) split(msgs *[]Message) (st Stream, ok bool) {
	f.flush()
	st = Stream{Src: f.key.src, Dst: f.key.dst, Transport: "tcp"}
	if len(f.runs) == 0 && f.tls == "" {
		return st, false
	}
	for _, r := range f.runs {
		st.Bytes += len(r.data)
	}
	st.TLS, st.TLSErr = f.tls, f.tlsErr
	if f.tls != "" {
		st.Bytes = f.wire
		if f.rest > 0 {
			st.skip(f.rest, ReasonTruncated)
		}
	}
	st.Gaps = max(len(f.runs)-1, 0)
	if len(f.runs) == 0 {
		return st, true // TLS without application data
	}
	first := f.runs[0]
	if f.syn && first.start > 0 {
		st.Gaps++ // the first bytes after the SYN are missing
	}
	if f.syn && first.start == 0 && !hasHeader(first.data) {
		// A stream that starts with anything but V2GTP is not V2GTP at all.
		reason := ReasonNotV2GTP
		if len(first.data) >= 2 && first.data[0] == 0x16 && first.data[1] == 0x03 {
			reason = ReasonTLS
		}
		st.skip(st.Bytes, reason)
		return st, true
	}
	found := false
	for ri, r := range f.runs {
		pos := 0
		if !(f.syn && r.start == 0) {
			pos = r.resync(0)
		}
		if pos > 0 {
			st.skip(pos, ReasonGap)
		}
		for pos < len(r.data) {
			h, p, _, err := v2gtp.Split(r.data[pos:])
			if err != nil {
				if !errors.Is(err, v2gtp.ErrVersion) {
					// The message runs into a hole or past the capture's end.
					reason := ReasonGap
					if ri == len(f.runs)-1 {
						reason = ReasonTruncated
					}
					st.skip(len(r.data)-pos, reason)
					break
				}
				next := r.resync(pos + 1)
				st.skip(next-pos, ReasonBadHeader)
				pos = next
				continue
			}
			end := pos + v2gtp.HeaderLen + len(p)
			*msgs = append(*msgs, Message{
				Frame: r.frameAt(end), Src: f.key.src, Dst: f.key.dst, Transport: "tcp",
				Header: h, Payload: p[:len(p):len(p)],
			})
			st.Messages++
			found = true
			pos = end
		}
	}
	if !found && st.Reason == ReasonGap {
		st.Reason = ReasonNotV2GTP // no header anywhere: the start is missing, or it is not V2GTP
	}
	return st, true
}

// hasHeader reports whether b starts with what is very likely a V2GTP
// header: the version bytes and a payload type defined for it.
func hasHeader(b []byte) bool {
	h, err := v2gtp.ParseHeader(b)
	return err == nil && h.Type.Known()
}

// resync returns the first offset at or after from where a delivery began
// with a likely V2GTP header, or len(r.data): splitting may resume there,
// as senders write each message with its own send call.
func (r *run) resync(from int) int {
	if from == 0 && hasHeader(r.data) {
		return 0
	}
	i, _ := slices.BinarySearchFunc(r.marks, from, func(m mark, from int) int { return cmp.Compare(m.end, from) })
	for ; i < len(r.marks); i++ {
		if hasHeader(r.data[r.marks[i].end:]) {
			return r.marks[i].end
		}
	}
	return len(r.data)
}

// frameAt returns the frame that delivered the byte before run offset end.
func (r *run) frameAt(end int) int {
	i, _ := slices.BinarySearchFunc(r.marks, end, func(m mark, end int) int { return cmp.Compare(m.end, end) })
	return r.marks[i].frame
}

// segHeap orders pending segments by stream offset.
type segHeap []segment

func (h segHeap) Len() int           { return len(h) }
func (h segHeap) Less(i, j int) bool { return h[i].off < h[j].off }
func (h segHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *segHeap) Push(x any)        { *h = append(*h, x.(segment)) }
func (h *segHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}
