package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Frame is one captured Ethernet frame.
type Frame struct {
	Time time.Time
	Data []byte // from the destination MAC address on
}

// Capture is the content of one capture file.
type Capture struct {
	frames  []Frame
	skipped int
}

// Frames returns the Ethernet frames in file order.
func (c *Capture) Frames() []Frame { return c.frames }

// Skipped returns how many frames were left out because their pcapng
// interface is not Ethernet.
func (c *Capture) Skipped() int { return c.skipped }

// Open reads the pcap or pcapng file at path.
func Open(path string) (*Capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return c, err
}

// File format magic numbers, as the first four bytes appear on disk.
const (
	magicPcapng        = 0x0A0D0D0A
	magicPcapMicro     = 0xA1B2C3D4
	magicPcapMicroSwap = 0xD4C3B2A1
	magicPcapNano      = 0xA1B23C4D
	magicPcapNanoSwap  = 0x4D3CB2A1
)

// Read reads a pcap or pcapng capture from r, telling them apart by their
// magic number. Only Ethernet frames are kept. When the file is damaged
// or cut short, Read returns the frames before the damage together with
// the error.
func Read(r io.Reader) (*Capture, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		if err == io.EOF {
			err = errors.New("capture: empty or shorter than a file header")
		}
		return nil, err
	}
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	mixed := false
	switch binary.BigEndian.Uint32(head) {
	case magicPcapng:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("capture: pcapng: %w", err)
		}
		src, mixed = ng, true
	case magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap:
		p, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("capture: pcap: %w", err)
		}
		if p.LinkType() != layers.LinkTypeEthernet {
			return nil, fmt.Errorf("capture: pcap link type %v, want Ethernet", p.LinkType())
		}
		src = p
	default:
		return nil, fmt.Errorf("capture: not a pcap or pcapng file (starts with % x)", head)
	}
	c := &Capture{}
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF && ci.CaptureLength > 0 {
			// pcapgo reports a file cut right after a record header as
			// a clean end; the record promised bytes that never came.
			err = io.ErrUnexpectedEOF
		}
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("capture: frame %d: %w", len(c.frames)+c.skipped+1, err)
		}
		if mixed && !isEthernet(ci) {
			c.skipped++
			continue
		}
		c.frames = append(c.frames, Frame{Time: ci.Timestamp, Data: data})
	}
}

// isEthernet reports whether a pcapng packet comes from an Ethernet interface.
func isEthernet(ci gopacket.CaptureInfo) bool {
	if len(ci.AncillaryData) == 0 {
		return false
	}
	lt, ok := ci.AncillaryData[0].(layers.LinkType)
	return ok && lt == layers.LinkTypeEthernet
}

// EtherTypeHomePlugAV is the ethertype of HomePlug AV and Green PHY
// management messages (MMEs).
const EtherTypeHomePlugAV = 0x88E1

// HomePlug returns the frames that carry HomePlug AV / Green PHY management
// messages. VLAN tags are removed, in copies, so that every returned frame
// has the ethertype 0x88E1 at bytes 12 and 13.
func HomePlug(frames []Frame) []Frame {
	var out []Frame
	for _, f := range frames {
		off, et := etherType(f.Data)
		if et != EtherTypeHomePlugAV {
			continue
		}
		if off != 12 {
			d := make([]byte, 0, len(f.Data)-(off-12))
			d = append(d, f.Data[:12]...)
			f.Data = append(d, f.Data[off:]...)
		}
		out = append(out, f)
	}
	return out
}

// etherType returns the offset and value of the ethertype of an Ethernet
// frame after any 802.1Q / 802.1ad tags, or 0 when the frame is too short.
func etherType(b []byte) (off int, et uint16) {
	for off = 12; off+2 <= len(b); off += 4 {
		et = binary.BigEndian.Uint16(b[off:])
		switch et {
		case 0x8100, 0x88A8, 0x9100:
			continue
		}
		return off, et
	}
	return 0, 0
}
