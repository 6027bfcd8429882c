// Package history keeps the session history: the record of every plug-in
// with a car, one JSON line each in the state directory's sessions.jsonl,
// oldest first. It is a subscriber of the charger of its own, so the
// history is kept whether or not the HTTP API runs; the API reads it.
//
// The file is written with mode 0640 whatever the umask (the daemon's
// group may read it, as the service unit's UMask=0027 intends; others
// never), on a goroutine of its own: a slow or full disk never holds up
// the daemon, and Close waits for the records handed to it.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/ccslink/ccslink/record"
)

// File is the name of the history in the state directory.
const File = "sessions.jsonl"

// DefaultKeep is how many plug-ins are kept when Config.Keep is 0.
const DefaultKeep = 50

// Modes of what the history creates: the daemon's user writes, its group
// reads, others nothing.
const (
	FileMode os.FileMode = 0o640
	DirMode  os.FileMode = 0o750
)

// maxLine bounds one line of the file; a record with the most answers
// and deliveries the record keeps is well under it.
const maxLine = 4 << 20

// queued bounds the records waiting for the disk.
const queued = 16

// Config configures a History.
type Config struct {
	// Dir is the state directory; empty keeps the history in memory only.
	Dir string
	// Keep is how many plug-ins are kept (DefaultKeep when 0); the file is
	// rewritten with the last Keep when it grew past twice that.
	Keep int
	// Log receives what goes wrong (nil discards).
	Log *slog.Logger
	// AwaitHandover holds a plug-in whose values were delivered from the
	// disk until its handover came (Late: what the charger did next, after
	// the plug-in ended), so that its one line says it; Close writes what
	// still waits. The list has it at once.
	AwaitHandover bool
}

// maxHeld bounds the records waiting for their handover: a watch ends
// within its bound, long before that many cars came and went.
const maxHeld = 8

// History is the charger's subscriber that keeps the plug-ins with a car.
// Its methods are safe for concurrent use; PlugInEnded never blocks.
type History struct {
	dir, path string
	keep      int
	log       *slog.Logger
	await     bool

	mu       sync.Mutex // guards sessions, closed and sending on ch
	sessions []*record.Session
	held     []*record.Session // waiting for their handover, oldest first
	closed   bool
	ch       chan []byte
	done     chan struct{}

	// The writer's own: the last keep lines, the lines in the file, and
	// whether its last line lacks its newline (a write cut short).
	lines  [][]byte
	count  int
	needNL bool
}

// New reads the plug-ins kept in cfg.Dir and starts the writer. An
// unreadable or unwritable state directory is logged, not refused: the
// daemon's job is the car, and the history then lives in memory.
func New(cfg Config) *History {
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &History{dir: cfg.Dir, keep: cfg.Keep, log: cfg.Log, await: cfg.AwaitHandover, ch: make(chan []byte, queued), done: make(chan struct{})}
	if cfg.Dir == "" {
		close(h.done)
		h.closed = true // nothing goes to disk
		return h
	}
	h.path = filepath.Join(cfg.Dir, File)
	h.sessions = h.load()
	go h.run()
	return h
}

// hadCar reports whether a car took part in a plug-in: it matched, it
// tried to, or it was plugged in and never talked. The rounds without one
// (the charger keys its modem afresh every half minute or so) are not kept.
func hadCar(s *record.Session) bool {
	return s != nil && (!s.Phases.Matched.IsZero() || s.End == record.EndSLACFailed || s.End == record.EndNoComm)
}

// Event does nothing: the history keeps whole plug-ins.
func (h *History) Event(record.Event, *record.Session) {}

// PlugInEnded keeps the record of a plug-in with a car and queues it for
// the disk (or holds it for its handover, with AwaitHandover); it never
// waits.
func (h *History) PlugInEnded(s *record.Session) {
	if !hadCar(s) {
		return
	}
	c := s.Clone()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions = append(h.sessions, c)
	if n := len(h.sessions) - h.keep; n > 0 {
		h.sessions = append(h.sessions[:0:0], h.sessions[n:]...)
	}
	if h.await && !h.closed && !c.Phases.Delivered.IsZero() && c.Handover == nil {
		if len(h.held) == maxHeld {
			h.queueLocked(h.held[0])
			h.held = h.held[1:]
		}
		h.held = append(h.held, c)
		return
	}
	h.queueLocked(c)
}

// Late takes the handover of a plug-in that ended before it came: the
// list shows it, and the plug-in's line is written with it.
func (h *History) Late(e record.Event, s *record.Session) {
	if e.Kind != record.KindHandover || !hadCar(s) {
		return
	}
	c := s.Clone()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, k := range h.sessions {
		if k.PlugIn == c.PlugIn && k.Handover == nil {
			h.sessions[i] = c
		}
	}
	for i, k := range h.held {
		if k.PlugIn == c.PlugIn {
			h.held = append(h.held[:i], h.held[i+1:]...)
			h.queueLocked(c)
			return
		}
	}
}

// queueLocked hands c's line to the writer without waiting; h.mu is held.
func (h *History) queueLocked(c *record.Session) {
	b, err := json.Marshal(c)
	switch {
	case h.closed:
	case err != nil:
		h.warn("cannot encode the plug-in's record for the state directory", err)
	default:
		select {
		case h.ch <- b:
		default:
			h.log.Warn("the state directory is too slow: a plug-in's record was not saved (it stays in the list until a restart)", "file", h.path)
		}
	}
}

// Sessions returns the plug-ins kept, oldest first. The records are
// shared: the caller must not change them.
func (h *History) Sessions() []*record.Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*record.Session(nil), h.sessions...)
}

// Close waits until the records handed to the history are written. Call
// it after the charger stopped; later records are kept in memory only.
func (h *History) Close() error {
	h.mu.Lock()
	if !h.closed {
		for _, c := range h.held {
			// As they are: no watch ends after the charger stopped.
			if b, err := json.Marshal(c); err == nil {
				h.ch <- b
			}
		}
		h.held = nil
		h.closed = true
		close(h.ch)
	}
	h.mu.Unlock()
	<-h.done
	return nil
}

// load reads the records kept, oldest first, at most keep of them. A line
// that is no record is skipped; a missing file is an empty list.
func (h *History) load() []*record.Session {
	if err := os.MkdirAll(h.dir, DirMode); err != nil {
		h.warn("cannot create the state directory; the session history will not survive a restart", err)
		return nil
	}
	f, err := os.Open(h.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			h.warn("cannot read the session history in the state directory; starting with an empty list", err)
		}
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		// A device or a pipe in its place could be read forever.
		h.log.Warn("the session history in the state directory is not a regular file; starting with an empty list", "file", h.path)
		return nil
	}
	list, lines, count, needNL, bad := parse(f, h.keep)
	h.lines, h.count, h.needNL = lines, count, needNL
	if bad > 0 {
		h.log.Warn("skipped lines of the session history that are not plug-in records", "file", h.path, "lines", bad)
	}
	return list
}

// parse reads JSON lines of records from r, keeping the last keep. It
// returns them, their lines, the number of lines, whether the last one
// lacks its newline, and how many lines were skipped.
func parse(r io.Reader, keep int) (list []*record.Session, lines [][]byte, count int, needNL bool, bad int) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	long := false // the line is over maxLine: skipped, not held
	for {
		chunk, err := br.ReadSlice('\n')
		if !long && len(line)+len(chunk) > maxLine {
			long, line = true, nil
		}
		if !long {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if len(line) > 0 || long {
			count++
			needNL = err != nil
			if long || !add(&list, &lines, bytes.TrimRight(line, "\r\n"), keep) {
				bad++
			}
		}
		if err != nil {
			return
		}
		line, long = nil, false
	}
}

func add(list *[]*record.Session, lines *[][]byte, line []byte, keep int) bool {
	var r record.Session
	if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &r) != nil {
		return false
	}
	*list = append(*list, &r)
	*lines = append(*lines, line)
	if n := len(*list) - keep; n > 0 {
		*list = append((*list)[:0:0], (*list)[n:]...)
		*lines = append((*lines)[:0:0], (*lines)[n:]...)
	}
	return true
}

func (h *History) run() {
	defer close(h.done)
	for b := range h.ch {
		h.append(b)
	}
}

func (h *History) append(b []byte) {
	h.lines = append(h.lines, b)
	if n := len(h.lines) - h.keep; n > 0 {
		h.lines = append(h.lines[:0:0], h.lines[n:]...)
	}
	if err := h.write(b); err != nil {
		h.warn("cannot save the plug-in's record in the state directory (is it writable, is the disk full?); the session history will not survive a restart", err)
		return
	}
	h.count++
	if h.count > 2*h.keep {
		if err := h.rotate(); err != nil {
			h.warn("cannot rewrite the session history with the last plug-ins (is the disk full?); it keeps growing until then", err)
			return
		}
		h.count = len(h.lines)
	}
}

// write appends one line; a write cut short is cut off again, so the file
// never holds half a record followed by the next.
func (h *History) write(b []byte) error {
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, FileMode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() != FileMode {
		// The umask narrowed a new file, or an older version left it
		// readable by all.
		err = f.Chmod(FileMode)
	}
	if err != nil {
		f.Close()
		return err
	}
	line := make([]byte, 0, len(b)+2)
	if h.needNL {
		line = append(line, '\n')
	}
	line = append(append(line, b...), '\n')
	if _, err = f.Write(line); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Truncate(fi.Size())
		f.Close()
		return err
	}
	h.needNL = false
	return f.Close()
}

// rotate replaces the file by one with the last keep lines, atomically.
func (h *History) rotate() error {
	f, err := os.CreateTemp(h.dir, File+".*.tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range h.lines {
		w.Write(l)
		w.WriteByte('\n')
	}
	err = w.Flush()
	if err == nil {
		err = f.Chmod(FileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), h.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(h.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (h *History) warn(msg string, err error) {
	h.log.Warn(msg, "dir", h.dir, "err", err)
}
