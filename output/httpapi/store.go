package httpapi

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

// SessionsFile is the name of the sessions list in the state directory:
// one plug-in's record per line, oldest first.
const SessionsFile = "sessions.jsonl"

// maxLine bounds one line of sessions.jsonl; a record with the most answers
// and deliveries the record keeps is well under it.
const maxLine = 4 << 20

// queued bounds the records waiting for the disk.
const queued = 16

// store appends plug-in records to sessions.jsonl on its own goroutine
// and rewrites the file with the last keep when it grew past twice that.
type store struct {
	dir, path string
	keep      int
	log       *slog.Logger

	ch     chan []byte
	done   chan struct{}
	mu     sync.Mutex // guards closed against save
	closed bool

	// The writer's own: the last keep lines, the lines in the file, and
	// whether its last line lacks its newline (a write cut short).
	lines  [][]byte
	count  int
	needNL bool
}

func newStore(dir string, keep int, log *slog.Logger) *store {
	return &store{dir: dir, path: filepath.Join(dir, SessionsFile), keep: keep, log: log,
		ch: make(chan []byte, queued), done: make(chan struct{})}
}

// load reads the records kept, oldest first, at most keep of them. A line
// that is no record is skipped; a missing file is an empty list.
func (st *store) load() []*record.Session {
	if err := os.MkdirAll(st.dir, 0o755); err != nil {
		st.warn("cannot create the state directory; the sessions list will not survive a restart", err)
		return nil
	}
	f, err := os.Open(st.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			st.warn("cannot read the sessions kept in the state directory; starting with an empty list", err)
		}
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		// A device or a pipe in its place could be read forever.
		st.log.Warn("the sessions list in the state directory is not a regular file; starting with an empty list", "file", st.path)
		return nil
	}
	list, lines, count, needNL, bad := parse(f, st.keep)
	st.lines, st.count, st.needNL = lines, count, needNL
	if bad > 0 {
		st.log.Warn("skipped lines of the sessions list that are not plug-in records", "file", st.path, "lines", bad)
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

// save queues r for the disk; it never waits. Called with the server's lock held.
func (st *store) save(r *record.Session) {
	b, err := json.Marshal(r)
	if err != nil {
		st.warn("cannot encode the plug-in's record for the state directory", err)
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	select {
	case st.ch <- b:
	default:
		st.log.Warn("the state directory is too slow: a plug-in's record was not saved (it stays in the list until a restart)", "file", st.path)
	}
}

func (st *store) run() {
	defer close(st.done)
	for b := range st.ch {
		st.append(b)
	}
}

func (st *store) close() {
	st.mu.Lock()
	if !st.closed {
		st.closed = true
		close(st.ch)
	}
	st.mu.Unlock()
	<-st.done
}

func (st *store) append(b []byte) {
	st.lines = append(st.lines, b)
	if n := len(st.lines) - st.keep; n > 0 {
		st.lines = append(st.lines[:0:0], st.lines[n:]...)
	}
	if err := st.write(b); err != nil {
		st.warn("cannot save the plug-in's record in the state directory (is it writable, is the disk full?); the sessions list will not survive a restart", err)
		return
	}
	st.count++
	if st.count > 2*st.keep {
		if err := st.rotate(); err != nil {
			st.warn("cannot rewrite the sessions list with the last plug-ins (is the disk full?); it keeps growing until then", err)
			return
		}
		st.count = len(st.lines)
	}
}

// write appends one line; a write cut short is cut off again, so the file
// never holds half a record followed by the next.
func (st *store) write(b []byte) error {
	f, err := os.OpenFile(st.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	line := make([]byte, 0, len(b)+2)
	if st.needNL {
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
	st.needNL = false
	return f.Close()
}

// rotate replaces the file by one with the last keep lines, atomically.
func (st *store) rotate() error {
	f, err := os.CreateTemp(st.dir, SessionsFile+".*.tmp")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, l := range st.lines {
		w.Write(l)
		w.WriteByte('\n')
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), st.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(st.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (st *store) warn(msg string, err error) {
	st.log.Warn(msg, "dir", st.dir, "err", err)
}
