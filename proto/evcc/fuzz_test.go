package evcc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/internal/shared"
	"github.com/ccslink/ccslink/proto/v2gtp"
)

// FuzzRun feeds the car arbitrary charger streams: the first byte picks
// the car, the rest is what the charger sends. The car must end with a
// result or an error, never panic or hang.
func FuzzRun(f *testing.F) {
	profiles := Profiles()
	// Whole sessions of the scripted charger, one per policy.
	for i, p := range profiles {
		for _, c := range []charger{
			{namespace: NamespaceDIN, din: dinPolicy(true)},
			{namespace: NamespaceDIN, din: dinPolicy(false)},
			{namespace: NamespaceISO2, iso: isoPolicy("soc")},
			{namespace: NamespaceISO2, iso: isoPolicy("dc")},
			{namespace: NamespaceISO2, iso: isoPolicy("ac")},
		} {
			car, done := c.start(f)
			Run(context.Background(), car, Config{Profile: p})
			if sn := finishRun(car, done); len(sn.sent) > 0 {
				f.Add(append([]byte{byte(i)}, sn.sent...))
			}
		}
	}
	// The answers of real chargers (pyPLC as the charger, the Ioniq as the car).
	if dir, ok := shared.SharedDir(); ok {
		if stream := realAnswers(f, filepath.Join(dir, "vectors", "pyPLC_v2gtp_frames_labeled_dedup.tsv"),
			"2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng"); len(stream) > 0 {
			f.Add(append([]byte{0}, stream...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		p := profiles[int(data[0])%len(profiles)]
		conn := pipeReadWriter{bytes.NewReader(data[1:]), io.Discard}
		res, err := Run(context.Background(), conn, Config{Profile: p})
		if err == nil && res.End == EndNone {
			t.Fatalf("no error and no end: %+v", res)
		}
		if err != nil && (res.End == EndComplete || res.End == EndShutdown) {
			t.Fatalf("error %v with End %v", err, res.End)
		}
	})
}

// realAnswers returns the charger's EXI frames of one capture, framed as
// V2GTP, in capture order.
func realAnswers(t testing.TB, table, file string) []byte {
	f, err := os.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stream []byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 9 || c[0] != file || c[3] != "tcp" || c[4] != "15118" {
			continue
		}
		b, err := hex.DecodeString(c[7])
		if err != nil {
			t.Fatal(err)
		}
		stream = v2gtp.AppendMessage(stream, v2gtp.TypeEXI, b)
	}
	return stream
}
