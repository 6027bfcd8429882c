// Package pcap writes each plug-in's frames to a pcap file, so a user
// can see (and attach to a bug report) exactly what their car did: the
// HomePlug frames of SLAC as they passed the interface, and the V2G
// messages of the TCP session as Ethernet/IPv6/TCP frames rebuilt around
// them (the daemon reads TCP from a socket, not from the wire). The files
// read back with the capture package, tshark and ccslink pcap.
//
// A Recorder is a subscriber of the charger: it buffers a plug-in's frames
// in memory and writes the file when the plug-in ends, only when a car
// matched, keeping the newest files in its directory. The buffer's budget
// counts the memory it holds, not only the frames' bytes. Until the car is
// known the newest frames are kept, so a flood or a neighbour before the
// car cannot push the car's SLAC out; at the match the other stations'
// SLAC is left out, and from then on the car's session is kept from its
// start, cut at the budget.
package pcap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ccslink/ccslink/record"
)

// Defaults of Config.
const (
	DefaultKeep     = 20
	DefaultMaxBytes = 8 << 20 // memory for a plug-in's frames; a long DC session is cut there
	snapLen         = 65535
	mss             = 1400 // TCP payload per rebuilt frame
)

// Config configures a Recorder; Dir is required.
type Config struct {
	Dir      string           // where the pcap files go (the state directory's recordings/)
	Keep     int              // files kept, the newest; zero means DefaultKeep
	MaxBytes int              // memory for a plug-in's frames (bytes and index); zero means DefaultMaxBytes
	MAC      net.HardwareAddr // the charger's interface MAC, for the rebuilt V2G frames
	Log      *slog.Logger
}

// Recorder records plug-ins. Its methods are safe for concurrent use.
type Recorder struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	buf     buffer
	evMAC   net.HardwareAddr
	seq     map[netip.AddrPort]uint32 // next sequence number per sender
	writes  sync.WaitGroup
	written chan struct{} // tests: a file was written (or failed)
}

// New checks cfg and makes the directory.
func New(cfg Config) (*Recorder, error) {
	if cfg.Dir == "" {
		return nil, errors.New("recording: no directory given")
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, &DirError{Dir: cfg.Dir, Err: err}
	}
	return &Recorder{cfg: cfg, log: cfg.Log, buf: newBuffer(cfg.MaxBytes), seq: map[netip.AddrPort]uint32{}, written: make(chan struct{}, 16)}, nil
}

// DirError reports a recordings directory that cannot be used.
type DirError struct {
	Dir string
	Err error
}

func (e *DirError) Error() string {
	return fmt.Sprintf("recordings: cannot use %s: %v (check the state directory's owner and free space)", e.Dir, e.Err)
}

func (e *DirError) Unwrap() error { return e.Err }

// add buffers a copy of one frame, within the plug-in's budget.
func (r *Recorder) add(at time.Time, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evMAC != nil && otherStation(data, r.evMAC, r.cfg.MAC) {
		r.buf.others++
		return
	}
	r.buf.add(at, data)
}

// Port is the HomePlug side as slac uses it.
type Port interface {
	ReadFrame(ctx context.Context, buf []byte) (int, error)
	WriteFrame(ctx context.Context, frame []byte) error
}

// Tap returns p with every frame read and written recorded.
func (r *Recorder) Tap(p Port) Port { return &tapped{p, r} }

type tapped struct {
	Port
	r *Recorder
}

func (t *tapped) ReadFrame(ctx context.Context, buf []byte) (int, error) {
	n, err := t.Port.ReadFrame(ctx, buf)
	if err == nil && n > 0 {
		t.r.add(time.Now(), buf[:n])
	}
	return n, err
}

func (t *tapped) WriteFrame(ctx context.Context, f []byte) error {
	err := t.Port.WriteFrame(ctx, f)
	if err == nil {
		t.r.add(time.Now(), f)
	}
	return err
}

// V2G records one V2GTP message (header and payload) of the TCP session,
// from the car when fromCar is set; car and charger are the two ends.
func (r *Recorder) V2G(at time.Time, fromCar bool, car, charger netip.AddrPort, msg []byte) {
	src, dst := charger, car
	if fromCar {
		src, dst = car, charger
	}
	r.mu.Lock()
	srcMAC, dstMAC := r.cfg.MAC, r.evMAC
	if fromCar {
		srcMAC, dstMAC = dstMAC, srcMAC
	}
	seq, ok := r.seq[src]
	if !ok {
		seq = 1
	}
	r.seq[src] = seq + uint32(len(msg))
	ack := r.seq[dst]
	r.mu.Unlock()
	for off := 0; off < len(msg); off += mss {
		end := min(off+mss, len(msg))
		f, err := tcpFrame(srcMAC, dstMAC, src, dst, seq+uint32(off), ack, msg[off:end])
		if err != nil {
			r.log.Debug("recording: a V2G frame could not be built", "err", err)
			return
		}
		r.add(at, f)
	}
}

// tcpFrame builds an Ethernet/IPv6/TCP frame around payload.
func tcpFrame(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort, seq, ack uint32, payload []byte) ([]byte, error) {
	if len(srcMAC) != 6 {
		srcMAC = make(net.HardwareAddr, 6)
	}
	if len(dstMAC) != 6 {
		dstMAC = make(net.HardwareAddr, 6)
	}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv6}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, ACK: true, PSH: true, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload))
	return buf.Bytes(), err
}

// Event starts a new plug-in's buffer when SLAC starts, and learns the car's
// MAC at the match: the other stations' SLAC is left out from then on.
func (r *Recorder) Event(e record.Event, s *record.Session) {
	switch e.Kind {
	case record.KindSLACStarted:
		r.mu.Lock()
		r.buf, r.evMAC = newBuffer(r.cfg.MaxBytes), nil
		clear(r.seq)
		r.mu.Unlock()
	case record.KindMatched:
		if mac, err := net.ParseMAC(e.EVMAC); err == nil {
			r.mu.Lock()
			r.evMAC = mac
			r.buf.others += r.buf.keep(func(f []byte) bool { return !otherStation(f, mac, r.cfg.MAC) })
			r.buf.keepOldest = true
			r.mu.Unlock()
		}
	}
}

// PlugInEnded writes the plug-in's file (when a car matched) on a goroutine
// of its own, so a slow or full disk never holds up the daemon.
func (r *Recorder) PlugInEnded(s *record.Session) {
	r.mu.Lock()
	buf := r.buf
	r.buf = newBuffer(r.cfg.MaxBytes)
	r.mu.Unlock()
	n := buf.frames()
	if s.Phases.Matched.IsZero() || n == 0 {
		return
	}
	name := fileName(s)
	r.writes.Add(1)
	go func() {
		defer r.writes.Done()
		err := r.write(name, &buf)
		var more []any
		if buf.others > 0 {
			more = append(more, "other_stations_frames_left_out", buf.others)
		}
		if buf.evicted > 0 {
			more = append(more, "frames_dropped_before_the_car", buf.evicted)
		}
		switch {
		case err != nil:
			r.log.Error("recording: the plug-in's frames were not saved", "err", err)
		case buf.cut:
			r.log.Warn("recording: saved, but cut at its size limit", append([]any{"file", name, "frames", n, "limit_bytes", r.cfg.MaxBytes}, more...)...)
		default:
			r.log.Debug("recording: saved", append([]any{"file", name, "frames", n}, more...)...)
		}
		select {
		case r.written <- struct{}{}:
		default:
		}
	}()
}

// Close waits for the files being written.
func (r *Recorder) Close() error {
	r.writes.Wait()
	return nil
}

// fileName names a plug-in's file by its start and the car: sorted by time.
func fileName(s *record.Session) string {
	t := s.Phases.SLACStart
	if t.IsZero() {
		t = s.Phases.Matched
	}
	mac := strings.ReplaceAll(s.EVMAC, ":", "")
	if mac == "" {
		mac = "car"
	}
	return fmt.Sprintf("plugin-%s-%s.pcap", t.UTC().Format("20060102T150405.000Z"), mac)
}

// FileMode is a recording's mode whatever the umask: the daemon's user
// writes it, its group reads it (as the service unit's UMask=0027 intends).
const FileMode os.FileMode = 0o640

func (r *Recorder) write(name string, buf *buffer) error {
	tmp, err := os.CreateTemp(r.cfg.Dir, ".plugin-*.pcap")
	if err != nil {
		return &DirError{Dir: r.cfg.Dir, Err: err}
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 64<<10)
	w := pcapgo.NewWriter(bw)
	err = w.WriteFileHeader(snapLen, layers.LinkTypeEthernet)
	if err == nil {
		err = buf.each(func(at time.Time, f []byte) error {
			return w.WritePacket(gopacket.CaptureInfo{Timestamp: at, CaptureLength: len(f), Length: len(f)}, f)
		})
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(FileMode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(r.cfg.Dir, name))
	}
	if err != nil {
		return &DirError{Dir: r.cfg.Dir, Err: err}
	}
	return r.prune()
}

// prune keeps the newest Keep recordings.
func (r *Recorder) prune() error {
	files, err := Files(r.cfg.Dir)
	if err != nil {
		return err
	}
	for len(files) > r.cfg.Keep {
		if err := os.Remove(files[0]); err != nil {
			return &DirError{Dir: r.cfg.Dir, Err: err}
		}
		files = files[1:]
	}
	return nil
}

// Files lists the recordings in dir, oldest first.
func Files(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "plugin-*.pcap"))
	if err != nil {
		return nil, err
	}
	slices.Sort(m)
	return m, nil
}
