package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ccslink/ccslink/daemon/config"
	"github.com/ccslink/ccslink/daemon/history"
	"github.com/ccslink/ccslink/daemon/output/pcap"
	"github.com/ccslink/ccslink/tools/doctor"
	"github.com/ccslink/ccslink/tools/timeline"
)

func init() {
	register(command{
		name:    "bundle",
		summary: "gather what a bug report needs into one file: recent plug-ins, their timelines, config, versions, doctor",
		run:     runBundle,
	})
}

// bundleSessions is how many of the last plug-ins a bundle holds.
const bundleSessions = 10

func runBundle(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("bundle", "bundle [--config FILE] [--state-dir DIR] [--hash-evccid] [-o FILE]", stderr)
	cfgPath := fs.String("config", defaultConfig, "the daemon's configuration file")
	stateDir := fs.String("state-dir", "", "the daemon's state directory (default: the configuration's, /var/lib/ccslink)")
	hash := fs.Bool("hash-evccid", false, "replace the cars' EVCCIDs and MACs by a hash, and leave the raw recordings out (their frames carry them)")
	out := fs.String("o", "", "the file to write (default ccslink-bundle-<time>.tar.gz here)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ccslink bundle: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	cfg, cfgErr := loadConfig(*cfgPath, explicit)
	if cfgErr != nil {
		// A bundle is for a broken setup too: note the error, go on with the defaults.
		cfg = config.Default()
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	if *out == "" {
		*out = "ccslink-bundle-" + time.Now().UTC().Format("20060102T150405Z") + ".tar.gz"
	}
	n, err := writeBundle(*out, cfg, cfgErr, *hash)
	if err != nil {
		fmt.Fprintf(stderr, "ccslink bundle: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%d files); attach it to your bug report\n", *out, n)
	return 0
}

// bundleWriter adds files to a gzipped tar.
type bundleWriter struct {
	tw  *tar.Writer
	now time.Time
	n   int
}

func (b *bundleWriter) add(name string, data []byte) error {
	b.n++
	if err := b.tw.WriteHeader(&tar.Header{Name: "ccslink-bundle/" + name, Mode: 0o644, Size: int64(len(data)), ModTime: b.now}); err != nil {
		return err
	}
	_, err := b.tw.Write(data)
	return err
}

func writeBundle(path string, cfg config.Config, cfgErr error, hash bool) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("cannot write the bundle: %w", err)
	}
	zw := gzip.NewWriter(f)
	b := &bundleWriter{tw: tar.NewWriter(zw), now: time.Now()}
	err = fillBundle(b, cfg, cfgErr, hash)
	for _, c := range []io.Closer{b.tw, zw, f} {
		if cerr := c.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("cannot write the bundle: %w", cerr)
		}
	}
	if err != nil {
		os.Remove(path)
	}
	return b.n, err
}

func fillBundle(b *bundleWriter, cfg config.Config, cfgErr error, hash bool) error {
	bi, _ := debug.ReadBuildInfo()
	v := readVersion(version, commit, bi)
	var info strings.Builder
	fmt.Fprintf(&info, "%s\ncreated %s\n", v, b.now.UTC().Format(time.RFC3339))
	if cfgErr != nil {
		fmt.Fprintf(&info, "configuration: %v (the defaults are shown)\n", cfgErr)
	}
	if hash {
		info.WriteString("EVCCIDs and car MACs are hashed; raw recordings are left out\n")
	}
	if err := b.add("README.txt", []byte(info.String())); err != nil {
		return err
	}

	hide := func(s []byte) []byte { return s }
	if hash {
		hide = hashIDs // the capacity fallback names cars too
	}
	if err := b.add("config.yaml", hide(cfg.Redacted().YAML())); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	checks := doctorChecks(ctx, cfg, doctor.DefaultTimeout)
	var doc bytes.Buffer
	writeChecks(&doc, checks)
	if err := b.add("doctor.txt", doc.Bytes()); err != nil {
		return err
	}
	if data, err := lastLines(filepath.Join(cfg.StateDir, history.File), bundleSessions); err == nil {
		if err := b.add("sessions.jsonl", hide(data)); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		b.add("sessions.error.txt", []byte(err.Error()+"\n"))
	}
	files, _ := pcap.Files(filepath.Join(cfg.StateDir, "recordings"))
	if len(files) > bundleSessions {
		files = files[len(files)-bundleSessions:]
	}
	for _, p := range files {
		name := filepath.Base(p)
		var text bytes.Buffer
		if t, err := timeline.File(p); err != nil {
			fmt.Fprintf(&text, "%v\n", err)
		} else {
			writeText(&text, t)
		}
		if hash {
			name = string(hashIDs([]byte(name)))
		}
		if err := b.add("recordings/"+strings.TrimSuffix(name, ".pcap")+".txt", hide(text.Bytes())); err != nil {
			return err
		}
		if hash {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if err := b.add("recordings/"+name, data); err != nil {
			return err
		}
	}
	return nil
}

// lastLines returns the last n lines of a file.
func lastLines(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		lines = append(lines, append(sc.Bytes(), '\n'))
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return bytes.Join(lines, nil), sc.Err()
}

// macLike matches what could be a car's ID: 12 hex digits, with or
// without colons (EVCCIDs, MACs in records, timelines and file names).
var macLike = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{12}|[0-9a-f]{2}(?::[0-9a-f]{2}){5})\b`)

// hashIDs replaces each car ID by the first 12 hex digits of its SHA-256,
// the same ID always by the same hash, so sessions of one car still match.
func hashIDs(b []byte) []byte {
	return macLike.ReplaceAllFunc(b, func(m []byte) []byte {
		id := strings.ToLower(strings.ReplaceAll(string(m), ":", ""))
		sum := sha256.Sum256([]byte(id))
		return []byte("h" + hex.EncodeToString(sum[:])[:11])
	})
}
