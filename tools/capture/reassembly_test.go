package capture

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ccslink/ccslink/proto/v2gtp"
)

func TestTCPSplitJoin(t *testing.T) {
	b := &builder{t: t}
	a := exi("request A, split in three segments")
	b.tcp(evcc, secc, 1000, "S", nil)
	b.tcp(secc, evcc, 5000, "S", nil)
	b.tcp(evcc, secc, 1001, "", a[:3])   // 2: inside the header
	b.tcp(evcc, secc, 1004, "", a[3:10]) // 3
	b.tcp(evcc, secc, 1011, "", a[10:])  // 4: A complete
	bc := cat(exi("response B"), exi("response C"), exi(""))
	b.tcp(secc, evcc, 5001, "", bc) // 5: B, C and an empty message joined
	b.tcp(evcc, secc, 1001+uint32(len(a)), "F", nil)

	msgs, streams := V2GTP(b.frames)
	if got, want := payloads(msgs), []string{"request A, split in three segments", "response B", "response C", ""}; !slices.Equal(got, want) {
		t.Fatalf("payloads %q, want %q", got, want)
	}
	if got, want := frameIdx(msgs), []int{4, 5, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	m := msgs[0]
	if m.Src != evcc || m.Dst != secc || m.Transport != "tcp" || m.Header != (v2gtp.Header{Type: v2gtp.TypeEXI, Length: 34}) || !m.Time.Equal(b.frames[4].Time) {
		t.Errorf("first message %+v", m)
	}
	if msgs[3].Src != secc || msgs[3].Dst != evcc {
		t.Errorf("direction of the last message: %v -> %v", msgs[3].Src, msgs[3].Dst)
	}
	want := []Stream{
		{Src: evcc, Dst: secc, Transport: "tcp", Bytes: len(a), Messages: 1},
		{Src: secc, Dst: evcc, Transport: "tcp", Bytes: len(bc), Messages: 3},
	}
	if !slices.Equal(streams, want) {
		t.Errorf("streams\n%+v\nwant\n%+v", streams, want)
	}
	// Payloads are copies: the caller may reuse the frames.
	for _, f := range b.frames {
		clear(f.Data)
	}
	if string(msgs[0].Payload) != "request A, split in three segments" {
		t.Errorf("payload changed with the frames: %q", msgs[0].Payload)
	}
}

func TestTCPRetransmitReorder(t *testing.T) {
	b := &builder{t: t}
	s := cat(exi("one"), exi("two"), exi("three"))
	// Sequence numbers wrap around in the middle of "two".
	isn := uint32(0xFFFFFFFF - 16)
	b.tcp(evcc, secc, isn, "S", nil)
	b.tcp(evcc, secc, isn+1, "", s[:5])       // 1
	b.tcp(evcc, secc, isn+1+15, "", s[15:25]) // 2: ahead of a hole
	b.tcp(evcc, secc, isn+1, "", s[:5])       // 3: duplicate
	b.tcp(evcc, secc, isn+1+3, "", s[3:15])   // 4: overlaps 1, fills the hole: one, two
	b.tcp(evcc, secc, isn+1+15, "", s[15:25]) // 5: retransmission of 2
	b.tcp(evcc, secc, isn+1+20, "", s[20:])   // 6: overlaps, ends three
	b.tcp(evcc, secc, isn+1, "", s)           // 7: everything again

	msgs, streams := V2GTP(b.frames)
	if got, want := payloads(msgs), []string{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Fatalf("payloads %q, want %q", got, want)
	}
	if got, want := frameIdx(msgs), []int{4, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
	if len(streams) != 1 || streams[0].Bytes != len(s) || streams[0].Gaps != 0 || streams[0].Skipped != 0 {
		t.Errorf("streams %+v", streams)
	}
}

func TestTCPMissingStart(t *testing.T) {
	// The capture starts in the middle of a connection and of a message.
	b := &builder{t: t}
	first := exi("cut off")
	b.tcp(evcc, secc, 7000, "", first[4:])
	b.tcp(evcc, secc, 7000+uint32(len(first)-4), "", exi("whole"))
	msgs, streams := V2GTP(b.frames)
	if got := payloads(msgs); !slices.Equal(got, []string{"whole"}) {
		t.Fatalf("payloads %q", got)
	}
	want := Stream{Src: evcc, Dst: secc, Transport: "tcp", Bytes: len(first) - 4 + 13, Messages: 1, Skipped: len(first) - 4, Reason: ReasonGap}
	if len(streams) != 1 || streams[0] != want {
		t.Errorf("streams %+v, want %+v", streams, want)
	}
}

func TestTCPGap(t *testing.T) {
	// A segment the capture lost and that was never retransmitted in it.
	b := &builder{t: t}
	s := cat(exi("before"), exi("lost in the middle"), exi("after"))
	b.tcp(evcc, secc, 99, "S", nil)
	b.tcp(evcc, secc, 100, "", s[:20])        // before + 6 bytes of the next
	b.tcp(evcc, secc, 100+30, "", s[30:40])   // hole 20..30
	b.tcp(evcc, secc, 100+40, "", s[40:])     // after, starting a segment
	b.tcp(secc, evcc, 555, "", exi("answer")) // its SYN is missing: resync at 0
	msgs, streams := V2GTP(b.frames)
	// "after" is dated by the capture of its bytes, though a receiver
	// would never have delivered it.
	if got := payloads(msgs); !slices.Equal(got, []string{"before", "after", "answer"}) {
		t.Fatalf("payloads %q", got)
	}
	if got := frameIdx(msgs); !slices.Equal(got, []int{1, 3, 4}) {
		t.Errorf("frames %v", got)
	}
	want := []Stream{
		{Src: evcc, Dst: secc, Transport: "tcp", Bytes: len(s) - 10, Messages: 2, Gaps: 1, Skipped: 6 + 10, Reason: ReasonGap},
		{Src: secc, Dst: evcc, Transport: "tcp", Bytes: 14, Messages: 1},
	}
	if !slices.Equal(streams, want) {
		t.Errorf("streams\n%+v\nwant\n%+v", streams, want)
	}
}

func TestTCPNotV2GTP(t *testing.T) {
	b := &builder{t: t}
	hello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	b.tcp(evcc, secc, 1, "S", nil)
	b.tcp(evcc, secc, 2, "", hello)
	b.tcp(evcc, secc, 2+uint32(len(hello)), "", exi("inside TLS this is ciphertext"))
	other := netip.AddrPortFrom(secc.Addr(), 61000)
	b.tcp(evcc, other, 1, "S", nil)
	b.tcp(evcc, other, 2, "", []byte("GET / HTTP/1.1\r\n"))
	msgs, streams := V2GTP(b.frames)
	if len(msgs) != 0 {
		t.Errorf("messages from non-V2GTP streams: %q", payloads(msgs))
	}
	if len(streams) != 2 || streams[0].Reason != ReasonTLS || streams[0].Skipped != streams[0].Bytes || streams[0].Bytes != len(hello)+37 ||
		streams[1].Reason != ReasonNotV2GTP || streams[1].Skipped != 16 {
		t.Errorf("streams %+v", streams)
	}
}

func TestTCPTruncatedAndBadHeader(t *testing.T) {
	b := &builder{t: t}
	s := cat(exi("ok"), []byte{0x02, 0xfd, 0x80, 0x01, 0, 0, 0, 0}, exi("cut"))
	b.tcp(evcc, secc, 1, "S", nil)
	b.tcp(evcc, secc, 2, "", s[:10])
	b.tcp(evcc, secc, 12, "", s[10:18]) // a bad header in its own segment
	b.tcp(evcc, secc, 20, "", exi("resync"))
	b.tcp(evcc, secc, 34, "", s[18:len(s)-1]) // the capture ends one byte early
	msgs, streams := V2GTP(b.frames)
	if got := payloads(msgs); !slices.Equal(got, []string{"ok", "resync"}) {
		t.Fatalf("payloads %q", got)
	}
	want := Stream{Src: evcc, Dst: secc, Transport: "tcp", Bytes: 10 + 8 + 14 + 10, Messages: 2, Skipped: 8 + 10, Reason: ReasonBadHeader}
	if len(streams) != 1 || streams[0] != want {
		t.Errorf("streams %+v, want %+v", streams, want)
	}
}

func TestTCPReusedPorts(t *testing.T) {
	// Two connections on the same addresses and ports, each with its SYN.
	b := &builder{t: t}
	b.tcp(evcc, secc, 10, "S", nil)
	b.tcp(evcc, secc, 11, "", exi("first"))
	b.tcp(evcc, secc, 10, "S", nil) // a retransmitted SYN changes nothing
	b.tcp(evcc, secc, 24, "F", nil)
	b.tcp(evcc, secc, 900, "S", nil)
	b.tcp(evcc, secc, 901, "", exi("second"))
	msgs, streams := V2GTP(b.frames)
	if got := payloads(msgs); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("payloads %q", got)
	}
	if len(streams) != 2 || streams[0].Messages != 1 || streams[1].Messages != 1 || streams[1].Skipped != 0 {
		t.Errorf("streams %+v", streams)
	}
}

func TestIPv4VLANPadding(t *testing.T) {
	// pyPLC's captures carry IPv4 too. Short frames get Ethernet padding
	// (and some NICs add trailers), which must not be taken for stream bytes.
	b := &builder{t: t, vlan: true}
	c := netip.MustParseAddrPort("192.168.1.2:40000")
	s := netip.MustParseAddrPort("192.168.1.1:15118")
	b.tcp(c, s, 1, "S", nil)
	b.tcp(c, s, 2, "", exi("a"))
	b.tcp(c, s, 11, "", exi("b"))
	for i := 1; i < 3; i++ {
		b.frames[i].Data = append(b.frames[i].Data, 0, 0, 0, 0, 0, 0)
	}
	msgs, streams := V2GTP(b.frames)
	if got := payloads(msgs); !slices.Equal(got, []string{"a", "b"}) || msgs[0].Src != c {
		t.Fatalf("payloads %q, streams %+v", got, streams)
	}
}

func TestSDP(t *testing.T) {
	b := &builder{t: t}
	all := netip.MustParseAddrPort("[ff02::1]:15118")
	car := netip.AddrPortFrom(evcc.Addr(), 50032)
	req := v2gtp.AppendMessage(nil, v2gtp.TypeSDPRequest, v2gtp.SDPRequest{Security: v2gtp.SecurityNone}.Append(nil))
	res := v2gtp.AppendMessage(nil, v2gtp.TypeSDPResponse, v2gtp.SDPResponse{IP: secc.Addr(), Port: secc.Port(), Security: v2gtp.SecurityNone}.Append(nil))
	b.udp(car, all, req)
	b.udp(car, all, req)
	b.udp(netip.AddrPortFrom(secc.Addr(), 15118), car, res)
	b.udp(car, netip.MustParseAddrPort("[ff02::fb]:5353"), req) // not SDP
	b.udp(car, all, []byte("junk"))
	msgs, streams := V2GTP(b.frames)
	if len(msgs) != 3 || msgs[2].Header.Type != v2gtp.TypeSDPResponse || msgs[2].Transport != "udp" || msgs[2].Frame != 2 {
		t.Fatalf("messages %+v", msgs)
	}
	r, err := v2gtp.ParseSDPResponse(msgs[2].Payload)
	if err != nil || r.IP != secc.Addr() || r.Port != 15118 {
		t.Errorf("response %+v, %v", r, err)
	}
	want := []Stream{
		{Src: car, Dst: all, Transport: "udp", Bytes: 24, Messages: 2, Skipped: 4, Reason: ReasonNotV2GTP},
		{Src: netip.AddrPortFrom(secc.Addr(), 15118), Dst: car, Transport: "udp", Bytes: 28, Messages: 1},
	}
	if !slices.Equal(streams, want) {
		t.Errorf("streams\n%+v\nwant\n%+v", streams, want)
	}
}

func TestHomePlug(t *testing.T) {
	mme := gopacket.Payload{0x01, 0x64, 0x60, 0x00, 0x00, 0xAA}
	b := &builder{t: t}
	b.add(mme)
	b.vlan = true
	b.add(mme)
	b.tcp(evcc, secc, 1, "S", nil)
	b.frames = append(b.frames, Frame{Data: []byte{1, 2, 3}}) // runt
	hp := HomePlug(b.frames)
	if len(hp) != 2 {
		t.Fatalf("%d HomePlug frames, want 2", len(hp))
	}
	// The serializer pads both to 60 bytes, so compare up to the padding.
	if !bytes.Equal(hp[0].Data, b.frames[0].Data) || !bytes.Equal(hp[1].Data[:20], b.frames[0].Data[:20]) || len(hp[1].Data) != len(b.frames[1].Data)-4 {
		t.Errorf("tagged frame not stripped:\n%x\n%x", hp[1].Data, b.frames[0].Data)
	}
	if !hp[1].Time.Equal(b.frames[1].Time) || b.frames[1].Data[12] != 0x81 {
		t.Error("time lost, or the caller's frame was changed")
	}
	var eth layers.Ethernet
	if err := eth.DecodeFromBytes(hp[1].Data, gopacket.NilDecodeFeedback); err != nil || eth.EthernetType != 0x88E1 {
		t.Errorf("%v %v", eth.EthernetType, err)
	}
}

// FuzzReassembly cuts a known stream into segments, then reorders,
// duplicates and coalesces them as the fuzzer says. As long as every byte
// is sent at least once, every message must come out, in order, whole.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{5, 9, 200, 3}, []byte{0, 1, 0x81, 0x42, 3, 0xC0}, uint32(0xFFFFFFF0))
	f.Add([]byte{0}, []byte{}, uint32(0))
	f.Add([]byte{255}, []byte{0x80, 0x80, 1, 0xC0}, uint32(1<<31))
	want := []string{"SupportedAppProtocolReq", "", "x", string(bytes.Repeat([]byte("CurrentDemandReq"), 40)), "end"}
	var stream []byte
	for _, p := range want {
		stream = append(stream, exi(p)...)
	}
	f.Fuzz(func(t *testing.T, cuts, ops []byte, isn uint32) {
		type seg struct{ off, end int }
		var segs []seg
		for off, i := 0, 0; off < len(stream); i++ {
			n := len(stream)
			if len(cuts) > 0 {
				n = 1 + int(cuts[i%len(cuts)])
			}
			segs = append(segs, seg{off, min(off+n, len(stream))})
			off = segs[len(segs)-1].end
		}
		for k := 0; k+1 < len(ops) && k < 128; k += 2 {
			i, j := int(ops[k])%len(segs), int(ops[k+1]&0x3F)%len(segs)
			switch ops[k+1] >> 6 {
			case 0, 1:
				segs[i], segs[j] = segs[j], segs[i]
			case 2: // a duplicate
				segs = slices.Insert(segs, j, segs[i])
			case 3: // a retransmission that coalesces two segments
				segs = append(segs, seg{min(segs[i].off, segs[j].off), max(segs[i].end, segs[j].end)})
			}
		}
		b := &builder{t: t}
		b.tcp(evcc, secc, isn, "S", nil)
		for _, s := range segs {
			b.tcp(evcc, secc, isn+1+uint32(s.off), "", stream[s.off:s.end])
		}
		msgs, streams := V2GTP(b.frames)
		if got := payloads(msgs); !slices.Equal(got, want) {
			t.Fatalf("segments %v: payloads %q", segs, got)
		}
		if len(streams) != 1 || streams[0].Bytes != len(stream) || streams[0].Skipped != 0 || streams[0].Gaps != 0 {
			t.Fatalf("segments %v: streams %+v", segs, streams)
		}
	})
}
