package secc

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"time"

	"github.com/ccslink/ccslink/internal/ratelog"
)

// MaxExcerpt is how many of a message's bytes an error shows: enough to
// recognise it, while a stream of undecodable messages cannot fill the
// disk with their hex.
const MaxExcerpt = 64

// PeerLogInterval is how often a peer's repeated warnings reach the log;
// those held back in between are counted in the next line ("suppressed").
const PeerLogInterval = 10 * time.Second

// hexExcerpt returns the hex of payload's first MaxExcerpt bytes.
func hexExcerpt(payload []byte) string {
	return hex.EncodeToString(payload[:min(len(payload), MaxExcerpt)])
}

// newPeerLog returns the limiter of the warnings about one peer.
func newPeerLog() *ratelog.Limiter { return ratelog.New(PeerLogInterval, 0, nil) }

// logPeer logs msg about the peer at addr unless a line of the same kind
// about it was logged within PeerLogInterval.
func (s *Server) logPeer(log *slog.Logger, level slog.Level, addr net.Addr, msg string, args ...any) {
	key := msg
	if ap := addrPort(addr); ap.IsValid() {
		key = ap.Addr().String() + " " + msg // the peer, whatever its port
	}
	ok, held := s.peerLog.Allow(key)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	log.Log(context.Background(), level, msg, args...)
}
