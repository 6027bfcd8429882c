package history

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccslink/ccslink/internal/testlog"
	"github.com/ccslink/ccslink/proto/v2g/message"
	"github.com/ccslink/ccslink/record"
)

var t0 = time.Date(2026, 5, 24, 10, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func mac(i int) string {
	return "02:00:00:00:00:" + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
}

// car is the record of a short plug-in of a car with the given MAC and SoC,
// folded from its events as the charger does.
func car(mac string, soc int, at time.Time) *record.Session {
	r := &record.Session{}
	for _, e := range []record.Event{
		{Kind: record.KindSLACStarted, At: at},
		{Kind: record.KindMatched, At: at.Add(time.Second), EVMAC: mac},
		{Kind: record.KindConnected, At: at.Add(2 * time.Second)},
		{Kind: record.KindSessionSetup, At: at.Add(2 * time.Second), EVCCID: []byte{0x04, 0x65, 0x65, 0x00, 0x64, 0xc3}},
		{Kind: record.KindValues, At: at.Add(3 * time.Second), Message: message.ChargeParameterDiscoveryReq, Values: record.Values{SoC: ptr(soc), EnergyRequestWh: ptr(1820.0)}},
		{Kind: record.KindRequest, At: at.Add(3 * time.Second), Message: message.ChargeParameterDiscoveryReq, Code: "OK"},
		{Kind: record.KindEnded, At: at.Add(4 * time.Second), End: record.EndCarClosed},
	} {
		r.Apply(e)
	}
	return r
}

// noCar is a round of the charger in which no car came.
func noCar(at time.Time) *record.Session {
	r := &record.Session{}
	r.Apply(record.Event{Kind: record.KindSLACStarted, At: at})
	r.Apply(record.Event{Kind: record.KindEnded, At: at.Add(30 * time.Second), End: record.EndNoCar})
	return r
}

func macs(list []*record.Session) string {
	var m []string
	for _, r := range list {
		m = append(m, r.EVMAC[len(r.EVMAC)-2:])
	}
	return strings.Join(m, " ")
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func open(t *testing.T, cfg Config) *History {
	t.Helper()
	h := New(cfg)
	t.Cleanup(func() { h.Close() })
	return h
}

func TestSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	h := open(t, Config{Dir: dir, Keep: 3})
	h.PlugInEnded(car(mac(0xc3), 93, t0))
	h.PlugInEnded(noCar(t0.Add(20 * time.Second))) // not a plug-in: not kept
	h.PlugInEnded(car(mac(1), 40, t0.Add(time.Minute)))
	if got := macs(h.Sessions()); got != "c3 01" {
		t.Errorf("sessions, oldest first: %s, want c3 01", got)
	}
	h.Close()
	if n := len(lines(t, filepath.Join(dir, File))); n != 2 {
		t.Errorf("%s has %d lines, want 2", File, n)
	}
	h2 := open(t, Config{Dir: dir, Keep: 3})
	got := h2.Sessions()
	if macs(got) != "c3 01" {
		t.Fatalf("after a restart: %s, want c3 01", macs(got))
	}
	r := got[0]
	if r.EVCCIDHex() != "0465650064c3" || r.SoC.Value != 93 || r.EnergyRequestWh.Value != 1820 || r.End != record.EndCarClosed || len(r.Answers) != 1 || !r.Phases.Matched.Equal(t0.Add(time.Second)) {
		t.Errorf("record read back: %s, end %v, %d answers", r.Summary(), r.End, len(r.Answers))
	}
}

// The file is 0640 whatever the umask, when it is created, rewritten, or
// was left readable by all by an older version.
func TestFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	mode := func(path string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode()
	}
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, File)
	h := New(Config{Dir: dir, Keep: 1})
	h.PlugInEnded(car(mac(1), 10, t0))
	h.Close()
	if m := mode(dir); m != os.ModeDir|0o750 {
		t.Errorf("state directory %v, want drwxr-x---", m)
	}
	if m := mode(path); m != 0o640 {
		t.Errorf("created with umask 0: %v, want -rw-r-----", m)
	}
	// Keep 1: the third line rewrites the file from a temporary one.
	h = New(Config{Dir: dir, Keep: 1})
	h.PlugInEnded(car(mac(2), 20, t0.Add(time.Minute)))
	h.PlugInEnded(car(mac(3), 30, t0.Add(2*time.Minute)))
	h.Close()
	if n := len(lines(t, path)); n != 1 {
		t.Fatalf("%d lines, want 1 after the rewrite", n)
	}
	if m := mode(path); m != 0o640 {
		t.Errorf("rewritten: %v, want -rw-r-----", m)
	}
	syscall.Umask(0o077)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	h = New(Config{Dir: dir, Keep: 5})
	h.PlugInEnded(car(mac(4), 40, t0.Add(3*time.Minute)))
	h.Close()
	if m := mode(path); m != 0o640 {
		t.Errorf("a file left 0666, appended to with umask 077: %v, want -rw-r-----", m)
	}
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, File)
	wantLines := []int{1, 2, 3, 4, 2, 3, 4, 2}
	var h *History
	for i, want := range wantLines {
		h = New(Config{Dir: dir, Keep: 2})
		if i > 0 {
			if got, want := macs(h.Sessions()), mac(i - 1)[15:]; !strings.HasSuffix(got, want) {
				t.Errorf("after plug-in %d and a restart: sessions %s, want %s last", i-1, got, want)
			}
		}
		h.PlugInEnded(car(mac(i), i, t0.Add(time.Duration(i)*time.Minute)))
		h.Close() // waits for the writer
		if n := len(lines(t, path)); n != want {
			t.Errorf("after plug-in %d: %d lines, want %d", i, n, want)
		}
	}
	if got := macs(h.Sessions()); got != "06 07" {
		t.Errorf("sessions %s, want 06 07", got)
	}
	var kept []string
	for _, l := range lines(t, path) {
		var r record.Session
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
func TestRotateRunning(t *testing.T) {
	dir := t.TempDir()
	h := open(t, Config{Dir: dir, Keep: 3})
	for i := range 7 {
		h.PlugInEnded(car(mac(i), i, t0.Add(time.Duration(i)*time.Minute)))
	}
	h.Close()
	// 1..6 lines, the 7th rewrites to 3.
	if n := len(lines(t, filepath.Join(dir, File))); n != 3 {
		t.Errorf("%d lines, want 3", n)
	}
	if got := macs(h.Sessions()); got != "04 05 06" {
		t.Errorf("sessions %s", got)
	}
}

func TestBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, File)
	good, _ := json.Marshal(&record.Session{EVMAC: mac(1), Phases: record.Phases{Matched: t0}})
	// A line cut short by a crash, garbage, and a good line without its newline.
	data := `{"ev_mac":"02:00` + "\n" + "not json\n\n" + string(good)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	log, buf := testlog.New()
	h := open(t, Config{Dir: dir, Keep: 5, Log: log})
	if got := macs(h.Sessions()); got != "01" {
		t.Errorf("sessions %s, want 01", got)
	}
	if !strings.Contains(buf.String(), "skipped lines of the session history that are not plug-in records") || !strings.Contains(buf.String(), "lines=3") {
		t.Errorf("log: %s", buf)
	}
	h.PlugInEnded(car(mac(2), 50, t0.Add(time.Minute)))
	h.Close()
	l := lines(t, path)
	if len(l) != 5 || l[3] != string(good) {
		t.Fatalf("the new record was not put on a line of its own: %q", l)
	}
	h2 := open(t, Config{Dir: dir, Keep: 5})
	if got := macs(h2.Sessions()); got != "01 02" {
		t.Errorf("sessions after a restart %s, want 01 02", got)
	}
}

// An unwritable state directory is said in the log; the daemon goes on
// and the list lives in memory.
func TestUnwritable(t *testing.T) {
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
	log, buf := testlog.New()
	h := open(t, Config{Dir: state, Keep: 2, Log: log})
	for i := range 5 {
		h.PlugInEnded(car(mac(i), i, t0.Add(time.Duration(i)*time.Minute)))
	}
	if got := macs(h.Sessions()); got != "03 04" {
		t.Errorf("sessions %s, want 03 04", got)
	}
	h.Close()
	if got := strings.Count(buf.String(), "cannot save the plug-in's record in the state directory (is it writable, is the disk full?); the session history will not survive a restart"); got != 5 {
		t.Errorf("%d warnings, want one per plug-in: %s", got, buf)
	}
	if !strings.Contains(buf.String(), "dir="+state) {
		t.Errorf("the warning does not name the directory: %s", buf)
	}
}

// A writer stuck on a slow disk never holds the subscriber: past the queue,
// records are not saved, and that is said.
func TestSlowDisk(t *testing.T) {
	log, buf := testlog.New()
	h := &History{dir: t.TempDir(), keep: 100, log: log, ch: make(chan []byte, queued), done: make(chan struct{})}
	h.path = filepath.Join(h.dir, File)
	// The writer is not running: a disk that never answers.
	done := make(chan struct{})
	go func() {
		for i := range queued + 3 {
			h.PlugInEnded(car(mac(i), i, t0.Add(time.Duration(i)*time.Minute)))
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
	if n := len(h.Sessions()); n != queued+3 {
		t.Errorf("%d sessions, want %d", n, queued+3)
	}
	go h.run()
	h.Close()
	if n := len(lines(t, h.path)); n != queued {
		t.Errorf("%d lines written once the disk answered, want %d", n, queued)
	}
}

// Without a directory the history lives in memory, and Close returns.
func TestInMemory(t *testing.T) {
	h := New(Config{Keep: 2})
	for i := range 3 {
		h.PlugInEnded(car(mac(i), i, t0.Add(time.Duration(i)*time.Minute)))
	}
	h.Close()
	h.PlugInEnded(car(mac(3), 3, t0.Add(3*time.Minute)))
	if got := macs(h.Sessions()); got != "02 03" {
		t.Errorf("sessions %s, want 02 03", got)
	}
}

func FuzzParse(f *testing.F) {
	good, _ := json.Marshal(car(mac(1), 50, t0))
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
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, File)); err != nil {
		t.Fatal(err)
	}
	log, buf := testlog.New()
	h := open(t, Config{Dir: dir, Keep: 2, Log: log})
	h.PlugInEnded(car(mac(1), 10, t0))
	h.PlugInEnded(car(mac(2), 20, t0.Add(time.Minute)))
	if got := macs(h.Sessions()); got != "01 02" {
		t.Errorf("sessions %s, want 01 02", got)
	}
	h.Close()
	out := buf.String()
	if !strings.Contains(out, "the session history in the state directory is not a regular file") {
		t.Errorf("log lacks the warning on reading: %s", out)
	}
	if got := strings.Count(out, "cannot save the plug-in's record in the state directory (is it writable, is the disk full?)"); got != 2 || !strings.Contains(out, "no space left on device") {
		t.Errorf("%d warnings on writing, want 2 naming the full disk: %s", got, out)
	}
	if fi, err := os.Lstat(filepath.Join(dir, File)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to the device was replaced: %v", err)
	}
}

// TestLoadsEarlierLines loads a line as earlier versions wrote it, when an
// answer's message was a plain string: the names read back as their kinds,
// and the line written again is the same bytes.
func TestLoadsEarlierLines(t *testing.T) {
	const line = `{"protocol":"din","namespace":"urn:din:70121:2012:MsgDef","ev_mac":"02:00:00:00:00:c3","evccid":{"hex":"0465650064c3","raw":"0465650064c3","random":false},"soc":{"value":93,"known":true,"from":"ChargeParameterDiscoveryReq","at":"2026-05-24T10:00:03Z"},"full_soc":{"value":0,"known":false},"bulk_soc":{"value":0,"known":false},"energy_capacity_wh":{"value":80000,"known":true,"from":"config","at":"2026-05-24T10:00:03Z"},"energy_request_wh":{"value":1820,"known":true,"from":"ChargeParameterDiscoveryReq","at":"2026-05-24T10:00:03Z"},"ev_max_voltage_v":{"value":0,"known":false},"ev_max_current_a":{"value":0,"known":false},"ev_max_power_w":{"value":0,"known":false},"phases":{"slac_start":"2026-05-24T10:00:00Z","matched":"2026-05-24T10:00:01Z","tcp":"2026-05-24T10:00:02Z","session_setup":"2026-05-24T10:00:02Z","first_charge_parameter_discovery":"2026-05-24T10:00:03Z","ended":"2026-05-24T10:00:04Z"},"answers":[{"message":"supportedAppProtocolReq","code":"OK_SuccessfulNegotiation","at":"2026-05-24T10:00:02Z","took_ns":61000},{"message":"SessionSetupReq","code":"OK_NewSessionEstablished","at":"2026-05-24T10:00:02Z","took_ns":80000},{"message":"ChargeParameterDiscoveryReq","code":"OK","at":"2026-05-24T10:00:03Z","took_ns":0}],"end":"car_closed"}`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, File), []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := open(t, Config{Dir: dir, Keep: 5}).Sessions()
	if len(got) != 1 {
		t.Fatalf("%d sessions loaded, want 1", len(got))
	}
	var kinds []message.Kind
	for _, a := range got[0].Answers {
		kinds = append(kinds, a.Message)
	}
	want := []message.Kind{message.SupportedAppProtocolReq, message.SessionSetupReq, message.ChargeParameterDiscoveryReq}
	if !slices.Equal(kinds, want) {
		t.Errorf("answers' messages %v, want %v", kinds, want)
	}
	if b, err := json.Marshal(got[0]); err != nil || string(b) != line {
		t.Errorf("written again:\n%s (%v)\nwant\n%s", b, err, line)
	}
}

// A car that never started SLAC is a plug-in to keep, read back with its
// end and its words.
func TestNoCommKept(t *testing.T) {
	dir := t.TempDir()
	h := open(t, Config{Dir: dir, Keep: 3})
	const words = "the car did not start digital communication within 10 s: it will charge on AC without SoC"
	r := &record.Session{}
	r.Apply(record.Event{Kind: record.KindSLACStarted, At: t0})
	r.Apply(record.Event{Kind: record.KindEnded, At: t0.Add(10 * time.Second), End: record.EndNoComm, Detail: words})
	r.Apply(record.Event{Kind: record.KindEnded, At: t0.Add(time.Minute), End: record.EndNoComm, Gone: "the control pilot went back to state A"})
	h.PlugInEnded(noCar(t0.Add(-time.Minute)))
	h.PlugInEnded(r)
	h.Close()
	got := open(t, Config{Dir: dir, Keep: 3}).Sessions()
	if len(got) != 1 || got[0].End != record.EndNoComm || got[0].Summary() != words || got[0].Gone != "the control pilot went back to state A" {
		t.Fatalf("read back: %d records %+v", len(got), got)
	}
}

// delivered is car's record with its values delivered to the SmartEVSE.
func delivered(n uint64, mac string, at time.Time) *record.Session {
	r := car(mac, 93, at)
	r.PlugIn = n
	r.Apply(record.Event{Kind: record.KindDelivered, At: at.Add(3 * time.Second), Delivery: &record.Delivery{Output: "smartevse", OK: true, Result: "HTTP 200", At: at.Add(3 * time.Second)}})
	return r
}

// TestAwaitHandover: a delivered plug-in's line waits for its handover,
// which comes after the plug-in ended, and is written once, with it; the
// list has the plug-in at once and the handover when it came. A plug-in
// without a delivery is written at once; one whose handover never came is
// written at Close, as it is.
func TestAwaitHandover(t *testing.T) {
	dir := t.TempDir()
	h := open(t, Config{Dir: dir, Keep: 10, AwaitHandover: true})
	first := delivered(1, mac(1), t0)
	h.PlugInEnded(first)
	h.PlugInEnded(car(mac(2), 50, t0.Add(time.Minute))) // no delivery: not held
	h.PlugInEnded(delivered(3, mac(3), t0.Add(2*time.Minute)))
	if got := macs(h.Sessions()); got != "01 02 03" {
		t.Fatalf("sessions %s", got)
	}
	ho := &record.Handover{Strategy: record.StrategyDeliverNow, ACStarted: true, ACAfter: 9 * time.Second, Observed: true, Watched: time.Minute, At: t0.Add(20 * time.Second)}
	e := record.Event{Kind: record.KindHandover, At: ho.At, PlugIn: 1, Handover: ho}
	amended := first.Clone()
	amended.Apply(e)
	h.Late(e, amended)
	h.Late(e, amended) // once only
	if got := h.Sessions(); got[0].Handover == nil || !got[0].Handover.ACStarted || got[2].Handover != nil {
		t.Fatalf("sessions' handovers: %+v, %+v", got[0].Handover, got[2].Handover)
	}
	h.Close()
	got := lines(t, filepath.Join(dir, File))
	var macsWritten []string
	for _, l := range got {
		var r record.Session
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		macsWritten = append(macsWritten, r.EVMAC[len(r.EVMAC)-2:])
		switch r.EVMAC {
		case mac(1):
			if r.Handover == nil || !r.Handover.ACStarted || r.Handover.ACAfter != 9*time.Second {
				t.Errorf("the first car's line: %s", l)
			}
		default:
			if r.Handover != nil {
				t.Errorf("a line with a handover that never came: %s", l)
			}
		}
	}
	// The car without a delivery first, the first car when its handover
	// came, the last at Close.
	if strings.Join(macsWritten, " ") != "02 01 03" {
		t.Fatalf("lines of %v", macsWritten)
	}
}

// TestAwaitHandoverBounded: records waiting for a handover that never
// comes are written once maxHeld are waiting, the oldest first.
func TestAwaitHandoverBounded(t *testing.T) {
	dir := t.TempDir()
	h := open(t, Config{Dir: dir, Keep: 20, AwaitHandover: true})
	for i := range maxHeld + 2 {
		h.PlugInEnded(delivered(uint64(i+1), mac(i), t0.Add(time.Duration(i)*time.Minute)))
	}
	h.mu.Lock()
	held := len(h.held)
	h.mu.Unlock()
	h.Close()
	if got := lines(t, filepath.Join(dir, File)); held != maxHeld || len(got) != maxHeld+2 || !strings.Contains(got[0], mac(0)) || !strings.Contains(got[1], mac(1)) {
		t.Fatalf("%d held, %d lines", held, len(got))
	}
}
