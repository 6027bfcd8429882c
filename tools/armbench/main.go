// Command armbench counts the guest instructions one op of a Go benchmark
// executes on linux/arm (GOARM=6, the Pi Zero's ARM1176) and linux/arm64
// (the Pi 4's Cortex-A72), under qemu-user on any Linux machine. Wall time
// under emulation says little about a Pi; the instruction count is exact
// and repeatable.
//
//	go run ./tools/armbench [-arch arm,arm64] [-bench REGEX] [-k 4] [-repeat 1] PKG...
//
// The package's test binary runs twice under qemu -d in_asm,exec,nochain,
// with -test.benchtime=2x and (2+k)x, on one P, without the collector but
// for the framework's own runtime.GC calls, and without signal
// preemption. Count reads the log: per benchmark, the instructions of every
// thread but sysmon's while its timer ran, less sysmon's preemptions. The
// difference of the two runs divided by k is one op. docs/performance-arm.md
// says what the count cannot see.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
)

// target is one architecture the tool counts for: how Go builds for it
// and how qemu runs it.
type target struct {
	name string
	env  []string // go build's environment
	qemu string
	cpu  string // the Pi's core, as qemu names it
	// godebug is added to GODEBUG under qemu.
	godebug string
}

var targets = map[string]target{
	// The Pi Zero W: ARMv6 with VFPv2, no hardware divide, no NEON.
	"arm": {name: "arm", env: []string{"GOARCH=arm", "GOARM=6"}, qemu: "qemu-arm", cpu: "arm1176"},
	// The Pi 4's BCM2711: Cortex-A72 without the optional crypto
	// extensions (qemu's model has them, so Go is told to leave them).
	"arm64": {name: "arm64", env: []string{"GOARCH=arm64"}, qemu: "qemu-aarch64", cpu: "cortex-a72",
		godebug: "cpu.aes=off,cpu.pmull=off,cpu.sha1=off,cpu.sha2=off,cpu.sha512=off,cpu.sha3=off"},
}

// MissingQemuError says which qemu to install.
type MissingQemuError struct{ Binary string }

func (e *MissingQemuError) Error() string {
	return fmt.Sprintf("%s not found: needs qemu-user: apt-get install qemu-user", e.Binary)
}

func main() {
	archs := flag.String("arch", "arm,arm64", "architectures, comma-separated: arm (GOARM=6), arm64")
	bench := flag.String("bench", ".", "benchmarks to count, as go test -bench takes them")
	k := flag.Int("k", 4, "ops counted per benchmark: the runs differ by k ops")
	base := flag.Int("base", 2, "ops of the shorter run; 1 suits only benchmarks that use b.Loop (a b.N benchmark runs 1 op with 1x, 1+N with Nx)")
	repeat := flag.Int("repeat", 1, "runs of each measurement; a count that differs between runs is shown as a range")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./tools/armbench [-arch arm,arm64] [-bench REGEX] [-base 2] [-k 4] [-repeat 1] PKG...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *k < 1 || *repeat < 1 || *base < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var ts []target
	for _, a := range strings.Split(*archs, ",") {
		t, ok := targets[a]
		if !ok {
			fmt.Fprintf(os.Stderr, "armbench: no architecture %q: give arm or arm64\n", a)
			os.Exit(2)
		}
		if _, err := exec.LookPath(t.qemu); err != nil {
			fmt.Fprintf(os.Stderr, "armbench: %v\n", &MissingQemuError{Binary: t.qemu})
			os.Exit(1)
		}
		ts = append(ts, t)
	}
	dir, err := os.MkdirTemp("", "armbench")
	if err != nil {
		fmt.Fprintf(os.Stderr, "armbench: a directory for the test binaries: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	var rows []Row
	for _, pkg := range flag.Args() {
		for _, t := range ts {
			r, err := measurePackage(ctx, t, pkg, *bench, *base, *k, *repeat, dir, os.Stderr)
			rows = append(rows, r...)
			if err != nil {
				fmt.Fprintf(os.Stderr, "armbench: %v\n", err)
				printTable(os.Stdout, rows, ts)
				os.RemoveAll(dir)
				os.Exit(1)
			}
		}
	}
	printTable(os.Stdout, rows, ts)
}

// Row is one benchmark's op on one architecture.
type Row struct {
	Pkg, Bench, Arch string
	// Min and Max are the instructions per op over the repeats.
	Min, Max float64
	// Allocs is allocs/op as the benchmark reported it (-1 if not).
	Allocs float64
}

// measurePackage builds pkg's test binary for t and counts each benchmark
// that matches bench.
func measurePackage(ctx context.Context, t target, pkg, bench string, base, k, repeat int, dir string, progress io.Writer) ([]Row, error) {
	bin := filepath.Join(dir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg)+"."+t.name)
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	env := append(os.Environ(), append([]string{"GOOS=linux", "CGO_ENABLED=0"}, t.env...)...)
	build.Env = env
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building %s's tests for %s: %v\n%s", pkg, t.name, err, out)
	}
	syms, err := ReadSymbols(bin)
	if err != nil {
		return nil, err
	}
	// go test runs a package's tests in its directory; so does this.
	list := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg)
	list.Env = env
	var listErr bytes.Buffer
	list.Stderr = &listErr
	dirOut, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("finding %s's directory: %v\n%s", pkg, err, listErr.Bytes())
	}
	pkgDir := strings.TrimSpace(string(dirOut))
	// Which benchmarks there are, sub-benchmarks included: one plain run.
	out, err := runQemu(ctx, t, pkgDir, bin, bench, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", pkg, t.name, err)
	}
	names := benchNames(out)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s on %s: no benchmark matches %q", pkg, t.name, bench)
	}
	rows := make([]Row, len(names))
	for i, name := range names {
		rows[i] = Row{Pkg: pkg, Bench: name, Arch: t.name, Allocs: -1}
	}
	for rep := range repeat {
		var c [2][]uint64
		for j, n := range []int{base, base + k} {
			var counts Counts
			out, err := runQemu(ctx, t, pkgDir, bin, bench, n, func(r io.Reader) error {
				var err error
				counts, err = Count(r, syms)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", pkg, t.name, err)
			}
			if len(counts.Benchmarks) != len(names) {
				return nil, fmt.Errorf("%s on %s: qemu's log shows %d benchmarks' timed stretches, the output %d benchmarks: the count cannot tell them apart", pkg, t.name, len(counts.Benchmarks), len(names))
			}
			c[j] = counts.Benchmarks
			if j == 1 {
				for i, name := range names {
					if r, ok := benchLine(out, name); ok {
						rows[i].Allocs = r.allocs
					}
				}
			}
		}
		for i := range names {
			per, err := PerOp(c[0][i], c[1][i], k)
			if err != nil {
				return nil, fmt.Errorf("%s %s on %s: %w", pkg, names[i], t.name, err)
			}
			if rep == 0 || per < rows[i].Min {
				rows[i].Min = per
			}
			if rep == 0 || per > rows[i].Max {
				rows[i].Max = per
			}
			fmt.Fprintf(progress, "%s %s %s: %.0f instructions/op\n", t.name, pkg, names[i], per)
		}
	}
	return rows, nil
}

// NoGrowthError is a pair of runs whose longer one did not count more.
type NoGrowthError struct{ Short, Long uint64 }

func (e *NoGrowthError) Error() string {
	return fmt.Sprintf("the run with more ops counted %d instructions, the shorter %d: the benchmark's work does not grow with its ops (does it use b.N or b.Loop?)", e.Long, e.Short)
}

// PerOp is one op's instructions from the counts of two runs that differ
// by k ops.
func PerOp(short, long uint64, k int) (float64, error) {
	if long <= short {
		return 0, &NoGrowthError{Short: short, Long: long}
	}
	return float64(long-short) / float64(k), nil
}

// runQemu runs the test binary's benchmarks matching bench with n ops
// each, on one P and with the collector off, so what runs is the same each
// time. With count set, qemu logs every block to count.
func runQemu(ctx context.Context, t target, dir, bin, bench string, n int, count func(io.Reader) error) ([]byte, error) {
	args := []string{"-cpu", t.cpu}
	var r, w *os.File
	if count != nil {
		var err error
		if r, w, err = os.Pipe(); err != nil {
			return nil, err
		}
		defer r.Close()
		growPipe(w)
		args = append(args, "-d", "in_asm,exec,nochain", "-D", "/dev/fd/3")
	}
	args = append(args, bin, "-test.run=^$", "-test.bench="+bench, "-test.benchtime="+strconv.Itoa(n)+"x",
		"-test.benchmem", "-test.cpu=1")
	cmd := exec.CommandContext(ctx, t.qemu, args...)
	cmd.Env = append(os.Environ(), runEnv(t)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if w != nil {
		cmd.ExtraFiles = []*os.File{w}
	}
	if err := cmd.Start(); err != nil {
		if w != nil {
			w.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", t.qemu, err)
	}
	var cerr error
	if w != nil {
		w.Close()
		cerr = count(r)
		io.Copy(io.Discard, r) // let qemu finish even when the count failed
	}
	if err := cmd.Wait(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w\n%s", t.qemu, filepath.Base(bin), err, out.Bytes())
	}
	if !bytes.Contains(out.Bytes(), []byte("\nPASS")) && !bytes.HasPrefix(out.Bytes(), []byte("PASS")) {
		return out.Bytes(), fmt.Errorf("%s %s did not pass:\n%s", t.qemu, filepath.Base(bin), out.Bytes())
	}
	return out.Bytes(), cerr
}

// runEnv is the program's environment under qemu: one P, no collection
// but the ones the benchmark framework asks for, and no preemption by
// signal, which sysmon sends by the clock.
func runEnv(t target) []string {
	debug := "asyncpreemptoff=1"
	if t.godebug != "" {
		debug += "," + t.godebug
	}
	return []string{"GOMAXPROCS=1", "GOGC=off", "GODEBUG=" + debug}
}

// result is one line of a benchmark's output.
type result struct {
	name   string
	n      int
	allocs float64
}

// parseBenchLine reads "BenchmarkX/sub  \t 10\t 123 ns/op\t 0 B/op\t 0 allocs/op".
func parseBenchLine(line string) (result, bool) {
	f := strings.Split(line, "\t")
	if len(f) < 3 || !strings.HasPrefix(f[0], "Benchmark") {
		return result{}, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(f[1]))
	if err != nil {
		return result{}, false
	}
	r := result{name: strings.TrimSpace(f[0]), n: n, allocs: -1}
	for _, m := range f[2:] {
		v, unit, ok := strings.Cut(strings.TrimSpace(m), " ")
		if ok && unit == "allocs/op" {
			if a, err := strconv.ParseFloat(v, 64); err == nil {
				r.allocs = a
			}
		}
	}
	return r, true
}

// benchNames lists the benchmarks that ran, in their order.
func benchNames(out []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if r, ok := parseBenchLine(sc.Text()); ok {
			names = append(names, r.name)
		}
	}
	return names
}

// benchLine finds name's result in out.
func benchLine(out []byte, name string) (result, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if r, ok := parseBenchLine(sc.Text()); ok && r.name == name {
			return r, true
		}
	}
	return result{}, false
}

// printTable writes one line per benchmark, a column per architecture.
func printTable(w io.Writer, rows []Row, ts []target) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"package", "benchmark"}
	for _, t := range ts {
		head = append(head, t.name+" instr/op", t.name+" allocs/op")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	type key struct{ pkg, bench string }
	byKey := map[key]map[string]Row{}
	var order []key
	for _, r := range rows {
		k := key{r.Pkg, r.Bench}
		if byKey[k] == nil {
			byKey[k] = map[string]Row{}
			order = append(order, k)
		}
		byKey[k][r.Arch] = r
	}
	for _, k := range order {
		line := []string{k.pkg, k.bench}
		for _, t := range ts {
			if r, ok := byKey[k][t.name]; ok {
				line = append(line, formatCount(r.Min, r.Max), formatAllocs(r.Allocs))
			} else {
				line = append(line, "-", "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	tw.Flush()
}

// formatCount writes a count with thousands separated, or a range.
func formatCount(lo, hi float64) string {
	if lo == hi {
		return group(lo)
	}
	return group(lo) + ".." + group(hi)
}

func formatAllocs(a float64) string {
	if a < 0 {
		return "-"
	}
	return strconv.FormatFloat(a, 'f', -1, 64)
}

// group writes v rounded to a whole number with commas between thousands.
func group(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// growPipe makes the log's pipe hold a megabyte, so qemu, which flushes
// every line, and the counter take turns less often (F_SETPIPE_SZ; the
// default size where it fails).
func growPipe(f *os.File) {
	const setPipeSize = 1031
	syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), setPipeSize, 1<<20)
}
