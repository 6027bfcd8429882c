package httpapi

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccslink/ccslink/record"
)

type row struct {
	EVMAC string `json:"ev_mac"`
	SoC   struct {
		Value int `json:"value"`
	} `json:"soc"`
	End string `json:"end"`
}

func sessions(t *testing.T, s *Server) []row {
	t.Helper()
	code, b := get(t, s.Handler(), "/api/sessions")
	if code != 200 {
		t.Fatalf("GET /api/sessions: %d %s", code, b)
	}
	var rows []row
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("GET /api/sessions: %v: %s", err, b)
	}
	return rows
}

func macs(rows []row) string {
	var m []string
	for _, r := range rows {
		m = append(m, r.EVMAC[len(r.EVMAC)-2:])
	}
	return strings.Join(m, " ")
}

func mac(i int) string {
	return "02:00:00:00:00:" + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, Config{StateDir: dir, Keep: 3})
	p := &player{s: s}
	p.plugIn(ioniq())
	p.plugIn(noCar(ms(20000))) // not a plug-in: not kept
	p.plugIn(car(mac(1), 40, ms(60000)))
	code, before := get(t, s.Handler(), "/api/sessions")
	if code != 200 {
		t.Fatal(code)
	}
	if got := macs(sessions(t, s)); got != "01 c3" {
		t.Errorf("sessions, newest first: %s, want 01 c3", got)
	}
	s.Close()
	if n := len(lines(t, filepath.Join(dir, SessionsFile))); n != 2 {
		t.Errorf("%s has %d lines, want 2", SessionsFile, n)
	}

	s2 := newServer(t, Config{StateDir: dir, Keep: 3})
	_, after := get(t, s2.Handler(), "/api/sessions")
	if !bytes.Equal(after, before) {
		t.Errorf("after a restart /api/sessions =\n%s\nwant\n%s", after, before)
	}
	// The state shows the last plug-in until a car comes.
	s2.mu.Lock()
	j := s2.state(false)
	s2.mu.Unlock()
	if j.State != StateWaiting || j.SoC != 40 || j.EVMAC != mac(1) {
		t.Errorf("after a restart: state %q soc %d car %s, want waiting, 40, %s", j.State, j.SoC, j.EVMAC, mac(1))
	}
	// Read back, the Ioniq's record is the one written.
	var r record.Session
	if err := json.Unmarshal([]byte(lines(t, filepath.Join(dir, SessionsFile))[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.EVCCIDHex() != "0465650064c3" || r.SoC.Value != 93 || r.EnergyRequestWh.Value != 1820 || r.End != record.EndSessionStop || len(r.Answers) != 3 {
		t.Errorf("record read back: %s, end %v, %d answers", r.Summary(), r.End, len(r.Answers))
	}
}

func TestSessionsRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SessionsFile)
	s := newServer(t, Config{StateDir: dir, Keep: 2})
	p := &player{s: s}
	wantLines := []int{1, 2, 3, 4, 2, 3, 4, 2}
	for i, want := range wantLines {
		p.plugIn(car(mac(i), i, ms(float64(i)*60000)))
		s.Close() // waits for the writer
		if n := len(lines(t, path)); n != want {
			t.Errorf("after plug-in %d: %d lines, want %d", i, n, want)
		}
		s = newServer(t, Config{StateDir: dir, Keep: 2})
		p.s = s
		if got, want := macs(sessions(t, s)), mac(i)[15:]; !strings.HasPrefix(got, want) {
			t.Errorf("after plug-in %d and a restart: sessions %s, want %s first", i, got, want)
		}
	}
	if got := macs(sessions(t, s)); got != "07 06" {
		t.Errorf("sessions %s, want 07 06", got)
	}
	var kept []string
	for _, l := range lines(t, path) {
		var r row
		json.Unmarshal([]byte(l), &r)
		kept = append(kept, r.EVMAC)
	}
	if strings.Join(kept, " ") != mac(6)+" "+mac(7) {
		t.Errorf("the file keeps %v, want the last two, oldest first", kept)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// Within one run, rotation keeps counting the lines it appends.
func TestSessionsRotateRunning(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, Config{StateDir: dir, Keep: 3})
	p := &player{s: s}
	for i := range 7 {
		p.plugIn(car(mac(i), i, ms(float64(i)*60000)))
	}
	s.Close()
	// 1..6 lines, the 7th rewrites to 3.
	if n := len(lines(t, filepath.Join(dir, SessionsFile))); n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
	if got := macs(sessions(t, s)); got != "06 05 04" {
		t.Errorf("sessions %s", got)
	}
}

func TestSessionsBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SessionsFile)
	good, _ := json.Marshal(&record.Session{EVMAC: mac(1), Phases: record.Phases{Matched: t0}})
	// A line cut short by a crash, garbage, and a good line without its newline.
	data := `{"ev_mac":"02:00` + "\n" + "not json\n\n" + string(good)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	log, buf := newLog()
	s := newServer(t, Config{StateDir: dir, Keep: 5, Log: log})
	if got := macs(sessions(t, s)); got != "01" {
		t.Errorf("sessions %s, want 01", got)
	}
	if !strings.Contains(buf.String(), "skipped lines of the sessions list that are not plug-in records") || !strings.Contains(buf.String(), "lines=3") {
		t.Errorf("log: %s", buf)
	}
	p := &player{s: s}
	p.plugIn(car(mac(2), 50, ms(60000)))
	s.Close()
	l := lines(t, path)
	if len(l) != 5 || l[3] != string(good) {
		t.Fatalf("the new record was not put on a line of its own: %q", l)
	}
	s2 := newServer(t, Config{StateDir: dir, Keep: 5})
	if got := macs(sessions(t, s2)); got != "02 01" {
		t.Errorf("sessions after a restart %s, want 02 01", got)
	}
}

// An unwritable state directory is said in the log; the daemon goes on
// and the list lives in memory.
func TestSessionsUnwritable(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if os.Geteuid() == 0 {
		// root writes anywhere: a file in place of the directory stops it.
		if err := os.WriteFile(state, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := os.Mkdir(state, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(state, 0o700) })
	}
	log, buf := newLog()
	s := newServer(t, Config{StateDir: state, Keep: 2, Log: log})
	p := &player{s: s}
	for i := range 5 {
		p.plugIn(car(mac(i), i, ms(float64(i)*60000)))
	}
	if got := macs(sessions(t, s)); got != "04 03" {
		t.Errorf("sessions %s, want 04 03", got)
	}
	s.Close()
	if got := strings.Count(buf.String(), "cannot save the plug-in's record in the state directory (is it writable, is the disk full?); the sessions list will not survive a restart"); got != 5 {
		t.Errorf("%d warnings, want one per plug-in: %s", got, buf)
	}
	if !strings.Contains(buf.String(), "dir="+state) {
		t.Errorf("the warning does not name the directory: %s", buf)
	}
}

// A writer stuck on a slow disk never holds the subscriber: past the queue,
// records are not saved, and that is said.
func TestSessionsSlowDisk(t *testing.T) {
	log, buf := newLog()
	s := newServer(t, Config{Keep: 100, Log: log})
	s.store = newStore(t.TempDir(), 100, log) // not running: a disk that never answers
	p := &player{s: s}
	done := make(chan struct{})
	go func() {
		for i := range queued + 3 {
			p.plugIn(car(mac(i), i, ms(float64(i)*60000)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("PlugInEnded blocked on the state directory")
	}
	if got := strings.Count(buf.String(), "the state directory is too slow"); got != 3 {
		t.Errorf("%d warnings, want 3: %s", got, buf)
	}
	if n := len(sessions(t, s)); n != queued+3 {
		t.Errorf("%d sessions, want %d", n, queued+3)
	}
	go s.store.run()
}

func FuzzParse(f *testing.F) {
	s, _ := New(Config{})
	p := &player{s: s}
	p.play(ioniq()...)
	good, _ := json.Marshal(p.rec)
	f.Add(append(good, '\n'))
	f.Add(append(append(good, '\n'), good[:40]...))
	f.Add([]byte("\n\n{}\nnull\n[1]\n"))
	f.Add([]byte(`{"evccid":{"raw":"zz"}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, lines, count, _, bad := parse(bytes.NewReader(data), 3)
		if len(list) > 3 || len(lines) != len(list) || bad > count || count > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d records, %d lines, %d counted, %d bad", len(list), len(lines), count, bad)
		}
		for i, l := range lines {
			var r record.Session
			if err := json.Unmarshal(l, &r); err != nil {
				t.Fatalf("kept line %d is not a record: %v", i, err)
			}
		}
	})
}

// A full disk: the write fails, the log says so, the list stays in memory.
func TestSessionsDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, SessionsFile)); err != nil {
		t.Fatal(err)
	}
	log, buf := newLog()
	s := newServer(t, Config{StateDir: dir, Keep: 2, Log: log})
	p := &player{s: s}
	p.plugIn(car(mac(1), 10, t0))
	p.plugIn(car(mac(2), 20, ms(60000)))
	if got := macs(sessions(t, s)); got != "02 01" {
		t.Errorf("sessions %s, want 02 01", got)
	}
	s.Close()
	out := buf.String()
	if !strings.Contains(out, "the sessions list in the state directory is not a regular file") {
		t.Errorf("log lacks the warning on reading: %s", out)
	}
	if got := strings.Count(out, "cannot save the plug-in's record in the state directory (is it writable, is the disk full?)"); got != 2 || !strings.Contains(out, "no space left on device") {
		t.Errorf("%d warnings on writing, want 2 naming the full disk: %s", got, out)
	}
}
