package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// stderrFile is a file standing in for standard error, with the
// JOURNAL_STREAM value that names it.
func stderrFile(t *testing.T) (*os.File, string) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	stream, ok := StreamOf(f)
	if !ok {
		t.Fatalf("no device and inode for %s", f.Name())
	}
	return f, stream
}

func contents(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJournalPriorities(t *testing.T) {
	f, stream := stderrFile(t)
	t.Setenv(StreamEnv, stream)
	s := New(f)
	if !s.Journal() {
		t.Fatalf("%s=%s names the file, but it is not taken for the journal", StreamEnv, stream)
	}
	log := s.Logger(slog.LevelDebug - 4)
	log.Debug("polling", "n", 1)
	log.Info("ready: waiting for a car", "interface", "eth1")
	log.Warn("the cars' values go nowhere")
	log.Error("failed", "err", "boom")
	log.With("car", "aa").WithGroup("g").Info("matched", "run", 2)
	log.Log(context.Background(), slog.LevelInfo+2, "between info and warning")
	log.Log(context.Background(), slog.LevelDebug-4, "below debug")
	fmt.Fprintf(s, "ccslink evse: %s\n", "no interface eth1; there are: lo")
	fmt.Fprint(s, "two\nlines\n")
	const want = "<7>level=DEBUG msg=polling n=1\n" +
		"<6>level=INFO msg=\"ready: waiting for a car\" interface=eth1\n" +
		"<4>level=WARN msg=\"the cars' values go nowhere\"\n" +
		"<3>level=ERROR msg=failed err=boom\n" +
		"<6>level=INFO msg=matched car=aa g.run=2\n" +
		"<6>level=INFO+2 msg=\"between info and warning\"\n" +
		"<7>level=DEBUG-4 msg=\"below debug\"\n" +
		"<3>ccslink evse: no interface eth1; there are: lo\n" +
		"<3>two\n<3>lines\n"
	if got := contents(t, f); got != want {
		t.Fatalf("the journal got\n%s\nwant\n%s", got, want)
	}
}

func TestJournalLevel(t *testing.T) {
	f, stream := stderrFile(t)
	t.Setenv(StreamEnv, stream)
	log := New(f).Logger(slog.LevelWarn)
	log.Info("left out")
	log.Warn("kept")
	if got, want := contents(t, f), "<4>level=WARN msg=kept\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestJournalLinesWhole: records and error lines of several goroutines
// never share a line, each line keeps its own priority.
func TestJournalLinesWhole(t *testing.T) {
	f, stream := stderrFile(t)
	t.Setenv(StreamEnv, stream)
	s := New(f)
	log := s.Logger(slog.LevelDebug)
	const n = 200
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := range n {
			log.Info("info", "i", i)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			log.With("w", 1).Warn("warn", "i", i)
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			fmt.Fprintf(s, "error %d\n", i)
		}
	}()
	wg.Wait()
	line := regexp.MustCompile(`^(<6>level=INFO msg=info i=\d+|<4>level=WARN msg=warn w=1 i=\d+|<3>error \d+)$`)
	lines := strings.Split(strings.TrimSuffix(contents(t, f), "\n"), "\n")
	if len(lines) != 3*n {
		t.Fatalf("%d lines, want %d", len(lines), 3*n)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("mixed or unprefixed line %q", l)
		}
	}
}

// TestNotJournal: without a JOURNAL_STREAM naming standard error, the
// format is slog's text with its time, and errors are plain lines.
func TestNotJournal(t *testing.T) {
	f, stream := stderrFile(t)
	dev, ino, _ := strings.Cut(stream, ":")
	other, otherStream := stderrFile(t)
	other.Close()
	for _, c := range []struct {
		name, stream string
	}{
		{"unset", ""},
		{"another file", otherStream},
		{"another inode", dev + ":" + ino + "1"},
		{"another device", "1" + dev + ":" + ino},
		{"no colon", dev + ino},
		{"not numbers", "a:b"},
		{"negative", "-" + dev + ":" + ino},
	} {
		t.Run(c.name, func(t *testing.T) {
			if IsJournal(f, c.stream) {
				t.Fatalf("%q taken for the journal", c.stream)
			}
		})
	}
	if !IsJournal(f, stream) {
		t.Fatalf("%q, the file's own, not taken for the journal", stream)
	}
	if IsJournal(&bytes.Buffer{}, stream) {
		t.Fatal("a writer that is not a file taken for the journal")
	}

	t.Setenv(StreamEnv, otherStream)
	s := New(f)
	if s.Journal() {
		t.Fatal("another file's stream taken for the journal")
	}
	s.Logger(slog.LevelInfo).Info("ready", "interface", "eth1")
	fmt.Fprintf(s, "ccslink evse: %s\n", "boom")
	got := contents(t, f)
	want := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-Z][0-9:]* level=INFO msg=ready interface=eth1\nccslink evse: boom\n$`)
	if !want.MatchString(got) {
		t.Fatalf("got %q, want today's format", got)
	}
}

func TestPriority(t *testing.T) {
	for l, want := range map[slog.Level]int{
		slog.LevelDebug - 1: 7, slog.LevelDebug: 7, slog.LevelInfo - 1: 7,
		slog.LevelInfo: 6, slog.LevelWarn - 1: 6,
		slog.LevelWarn: 4, slog.LevelError - 1: 4,
		slog.LevelError: 3, slog.LevelError + 4: 3,
	} {
		if got := Priority(l); got != want {
			t.Errorf("Priority(%v) = %d, want %d", l, got, want)
		}
	}
}
