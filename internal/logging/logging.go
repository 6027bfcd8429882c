// Package logging makes a command's logger and the writer of the error it
// exits with. On a terminal or a file they write slog's text format and
// plain lines. When standard error is the systemd journal, each line starts
// with its sd-daemon priority prefix (<3> an error, <4> a warning, <6>
// information, <7> debug), so `journalctl -p warning` finds the warnings,
// and carries no time: the journal stamps every line itself.
package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
)

// StreamEnv names the variable systemd sets to the device and inode
// ("<dev>:<inode>") of the journal stream it connects standard output or
// standard error to.
const StreamEnv = "JOURNAL_STREAM"

// The sd-daemon priorities (syslog's) of the levels.
const (
	PriorityError = 3
	PriorityWarn  = 4
	PriorityInfo  = 6
	PriorityDebug = 7
)

// Priority returns the syslog priority of a slog level: an error 3, a
// warning 4, information 6, anything below debug 7.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return PriorityError
	case l >= slog.LevelWarn:
		return PriorityWarn
	case l >= slog.LevelInfo:
		return PriorityInfo
	}
	return PriorityDebug
}

// Stderr is a command's standard error: its log (Logger) and its own lines
// (Write) share it, one whole line at a time.
type Stderr struct {
	w       io.Writer
	journal *journal // nil unless w is the journal
}

// New returns w as a command's standard error; it is the journal when w is
// a file whose device and inode are those StreamEnv names.
func New(w io.Writer) *Stderr {
	s := &Stderr{w: w}
	if IsJournal(w, os.Getenv(StreamEnv)) {
		s.journal = &journal{w: w}
	}
	return s
}

// Journal reports whether the lines go to the journal, with priorities.
func (s *Stderr) Journal() bool { return s.journal != nil }

// Logger returns a logger at level: slog's text handler, as it is on a
// terminal, or in the journal without the time and with each record's
// priority.
func (s *Stderr) Logger(level slog.Leveler) *slog.Logger {
	if s.journal == nil {
		return slog.New(slog.NewTextHandler(s.w, &slog.HandlerOptions{Level: level}))
	}
	inner := slog.NewTextHandler(recordWriter{s.journal}, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime})
	return slog.New(&handler{inner: inner, j: s.journal})
}

// Write writes the command's own lines to standard error: the error it
// exits with, its usage. In the journal every line is an error (<3>).
func (s *Stderr) Write(p []byte) (int, error) {
	if s.journal == nil {
		return s.w.Write(p)
	}
	return s.journal.writeErrors(p)
}

// IsJournal reports whether w is the journal stream that stream
// (StreamEnv's value, "<dev>:<inode>") names: a file with that device and
// inode. Only then is a priority prefix understood; a JOURNAL_STREAM
// inherited by a process whose standard error went elsewhere is ignored.
func IsJournal(w io.Writer, stream string) bool {
	f, ok := w.(*os.File)
	if !ok || stream == "" {
		return false
	}
	devText, inoText, ok := strings.Cut(stream, ":")
	if !ok {
		return false
	}
	dev, err := strconv.ParseUint(devText, 10, 64)
	if err != nil {
		return false
	}
	ino, err := strconv.ParseUint(inoText, 10, 64)
	if err != nil {
		return false
	}
	fdev, fino, ok := devIno(f)
	return ok && fdev == dev && fino == ino
}

// StreamOf returns the JOURNAL_STREAM value that names f, "<dev>:<inode>",
// as systemd sets it for the stream it connects to a service's stderr.
func StreamOf(f *os.File) (string, bool) {
	dev, ino, ok := devIno(f)
	if !ok {
		return "", false
	}
	return strconv.FormatUint(dev, 10) + ":" + strconv.FormatUint(ino, 10), true
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// journal writes whole lines to the journal's stream, each with its
// priority; a line is one Write, so lines of several goroutines never mix.
type journal struct {
	w      io.Writer
	mu     sync.Mutex
	prefix []byte // the priority of the record being written, under mu
	buf    []byte
}

// write writes b as is, under mu.
func (j *journal) write(b []byte) error {
	_, err := j.w.Write(b)
	if cap(j.buf) > 64<<10 {
		j.buf = nil // one long line keeps no large buffer alive
	}
	return err
}

// handler sets the priority of each record before its text handler writes it.
type handler struct {
	inner slog.Handler
	j     *journal
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	h.j.mu.Lock()
	defer h.j.mu.Unlock()
	h.j.prefix = strconv.AppendInt(append(h.j.prefix[:0], '<'), int64(Priority(r.Level)), 10)
	h.j.prefix = append(h.j.prefix, '>')
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(as), j: h.j}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name), j: h.j}
}

// recordWriter is the text handler's writer: it is called from
// handler.Handle, with the journal's lock held and the priority set.
type recordWriter struct{ j *journal }

func (r recordWriter) Write(p []byte) (int, error) {
	r.j.buf = append(append(r.j.buf[:0], r.j.prefix...), p...)
	return len(p), r.j.write(r.j.buf)
}

// writeErrors writes p's lines at the error priority.
func (j *journal) writeErrors(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.buf[:0]
	for rest := p; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		b = append(append(b, "<3>"...), line...)
	}
	j.buf = b
	return len(p), j.write(b)
}
