package main

import (
	"bytes"
	"errors"
	"testing"
)

func TestPerOp(t *testing.T) {
	if got, err := PerOp(1_000_000, 1_123_456, 8); err != nil || got != 15432 {
		t.Errorf("PerOp = %v, %v; want 15432", got, err)
	}
	if got, err := PerOp(10, 13, 2); err != nil || got != 1.5 {
		t.Errorf("PerOp = %v, %v; want 1.5", got, err)
	}
	for _, c := range [][2]uint64{{5, 5}, {6, 5}} {
		_, err := PerOp(c[0], c[1], 4)
		var ng *NoGrowthError
		if !errors.As(err, &ng) || ng.Short != c[0] || ng.Long != c[1] {
			t.Errorf("PerOp(%d, %d): %v, want a NoGrowthError", c[0], c[1], err)
		}
	}
}

const sampleOutput = `goos: linux
goarch: arm
pkg: github.com/ccslink/ccslink/proto/secc
cpu: AMD EPYC @ 2096.041MHz
BenchmarkDINSoCSession         	      10	   1234567 ns/op	    4096 B/op	      17 allocs/op
BenchmarkHandshake/iso20-tls1.3-p521         	       2	  85326571 ns/op	  204361 B/op	    2583 allocs/op
BenchmarkDecode/DIN_CurrentDemandReq         	       2	     21566 ns/op	   2.36 MB/s	       272.5 ns/byte	       0 B/op	       0 allocs/op
BenchmarkNoAllocs	     100	        12.5 ns/op
--- BENCH: BenchmarkX
PASS
`

func TestBenchLines(t *testing.T) {
	names := benchNames([]byte(sampleOutput))
	want := []string{"BenchmarkDINSoCSession", "BenchmarkHandshake/iso20-tls1.3-p521", "BenchmarkDecode/DIN_CurrentDemandReq", "BenchmarkNoAllocs"}
	if len(names) != len(want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("name %d: %q, want %q", i, names[i], want[i])
		}
	}
	for name, allocs := range map[string]float64{
		"BenchmarkDINSoCSession":               17,
		"BenchmarkHandshake/iso20-tls1.3-p521": 2583,
		"BenchmarkDecode/DIN_CurrentDemandReq": 0,
		"BenchmarkNoAllocs":                    -1,
	} {
		r, ok := benchLine([]byte(sampleOutput), name)
		if !ok || r.allocs != allocs {
			t.Errorf("%s: %+v, %v; want %v allocs/op", name, r, ok, allocs)
		}
	}
	if _, ok := benchLine([]byte(sampleOutput), "BenchmarkX"); ok {
		t.Error("BenchmarkX has no result line, but one was found")
	}
}

func TestPrintTable(t *testing.T) {
	rows := []Row{
		{Pkg: "./proto/secc", Bench: "BenchmarkDINSoCSession", Arch: "arm", Min: 1234567, Max: 1234567, Allocs: 17},
		{Pkg: "./proto/secc", Bench: "BenchmarkDINSoCSession", Arch: "arm64", Min: 987654.4, Max: 987700, Allocs: 17},
		{Pkg: "./proto/v2g", Bench: "BenchmarkDecode/SAP_Res", Arch: "arm64", Min: 999, Max: 999, Allocs: -1},
	}
	var b bytes.Buffer
	printTable(&b, rows, []target{targets["arm"], targets["arm64"]})
	want := "package       benchmark                arm instr/op  arm allocs/op  arm64 instr/op    arm64 allocs/op\n" +
		"./proto/secc  BenchmarkDINSoCSession   1,234,567     17             987,654..987,700  17\n" +
		"./proto/v2g   BenchmarkDecode/SAP_Res  -             -              999               -\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestGroup(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 15432.4: "15,432", 123456789: "123,456,789", -1234: "-1,234"} {
		if got := group(v); got != want {
			t.Errorf("group(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestMissingQemu(t *testing.T) {
	err := &MissingQemuError{Binary: "qemu-arm"}
	if err.Error() != "qemu-arm not found: needs qemu-user: apt-get install qemu-user" {
		t.Errorf("%v", err)
	}
}
