package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g"
)

func init() {
	register(command{
		name:    "decode",
		summary: "decode EXI messages (hex) into JSON lines",
		run:     runDecode,
	})
	register(command{
		name:    "encode",
		summary: "encode JSON lines into EXI messages (hex)",
		run:     runEncode,
	})
}

const schemaHelp = "schema set: apphand, din, iso2, iso20, iso20ac, iso20dc, iso20acdp, iso20wpt or xmldsig"

// lookup finds the codec of --schema, or its fragment codec with --fragment.
func lookup(name string, fragment bool, stderr io.Writer, cmd string) (v2g.Codec, bool) {
	c, ok := v2g.Lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "ccslink %s: unknown schema %q (%s)\n", cmd, name, schemaHelp)
		return c, false
	}
	if fragment {
		if c.Fragment == nil {
			fmt.Fprintf(stderr, "ccslink %s: schema %s has no fragment grammar (din, iso2, iso20 and xmldsig have)\n", cmd, name)
			return c, false
		}
		c = *c.Fragment
	}
	return c, true
}

// maxLine bounds one input line (a certificate chain message is ~6 KiB of EXI).
const maxLine = 1 << 20

// errLineTooLong is the error of an input line over maxLine bytes; the rest
// of the line is skipped unread into memory and the next line is read.
var errLineTooLong = fmt.Errorf("longer than %d bytes (1 MiB), the limit for one line; skipped", maxLine)

func runDecode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("decode", "decode --schema S [HEX...]  (or one hex document per line on stdin)", stderr)
	schema := fs.String("schema", "", schemaHelp)
	fragment := fs.Bool("fragment", false, "EXI fragments (the signed parts of messages) instead of documents")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, ok := lookup(*schema, *fragment, stderr, "decode")
	if !ok {
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	failed := false
	eachLine(fs.Args(), stdin, func(n int, line string, err error) {
		var j []byte
		if err == nil {
			var warns []string
			j, warns, err = decodeLine(c, line)
			for _, w := range warns {
				fmt.Fprintf(stderr, "line %d: %s\n", n, w)
			}
		}
		if err != nil {
			// The error alone: an empty object would read as a document
			// to whatever takes the output; the line number says which failed.
			failed = true
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
			return
		}
		out.Write(j)
		out.WriteByte('\n')
	}, func(err error) {
		failed = true
		fmt.Fprintf(stderr, "ccslink decode: reading input: %v\n", err)
	})
	if failed {
		return 1
	}
	return 0
}

// decodeLine decodes one hex document; warns report what some cars send and
// what does not make the line fail: values the schema forbids (kept), and
// bytes after the document.
func decodeLine(c v2g.Codec, line string) (j []byte, warns []string, err error) {
	b, err := hex.DecodeString(strings.Join(strings.Fields(line), ""))
	if err != nil {
		return nil, nil, fmt.Errorf("not hex: %v", err)
	}
	// A V2GTP header (01 fe, type, length) may lead the EXI document.
	if len(b) >= 8 && b[0] == 0x01 && b[1] == 0xfe {
		b = b[8:]
	}
	doc := c.New()
	n, notes, err := c.DecodeNotes(b, doc)
	if err != nil {
		var xe *exi.Error
		if errors.As(err, &xe) {
			return nil, nil, fmt.Errorf("bit %d: %s", xe.Bit, xe.Msg)
		}
		return nil, nil, err
	}
	if j, err = json.Marshal(doc); err != nil {
		return nil, nil, err
	}
	for _, nt := range notes {
		warns = append(warns, fmt.Sprintf("bit %d: %s: %s (kept; the schema forbids it, so it does not encode back)", nt.Bit, nt.Field, nt.Msg))
	}
	if n < len(b) {
		warns = append(warns, fmt.Sprintf("%d bytes after the end of the document: %x", len(b)-n, b[n:]))
	}
	return j, warns, nil
}

func runEncode(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("encode", "encode --schema S  (JSON documents, one per line, on stdin)", stderr)
	schema := fs.String("schema", "", schemaHelp)
	fragment := fs.Bool("fragment", false, "EXI fragments (the signed parts of messages) instead of documents")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, ok := lookup(*schema, *fragment, stderr, "encode")
	if !ok {
		return 2
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	failed := false
	var buf []byte
	eachLine(fs.Args(), stdin, func(n int, line string, err error) {
		if err == nil {
			doc := c.New()
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			err = dec.Decode(doc)
			if err == nil {
				buf, err = c.Append(buf[:0], doc)
			}
		}
		if err != nil {
			failed = true
			fmt.Fprintf(stderr, "line %d: %v\n", n, err)
			return // the error alone, as decode: the line number says which
		}
		out.WriteString(hex.EncodeToString(buf))
		out.WriteByte('\n')
	}, func(err error) {
		failed = true
		fmt.Fprintf(stderr, "ccslink encode: reading input: %v\n", err)
	})
	if failed {
		return 1
	}
	return 0
}

// eachLine calls fn for each argument, or else for each line of stdin
// (numbered from 1, without its line ending); blank lines still produce an
// output line. A line over maxLine bytes comes with errLineTooLong instead
// of its text, and reading goes on with the next; fail gets a read error,
// which ends the input.
func eachLine(args []string, stdin io.Reader, fn func(n int, line string, err error), fail func(error)) {
	if len(args) > 0 {
		for i, a := range args {
			fn(i+1, a, nil)
		}
		return
	}
	if err := readLines(stdin, 64<<10, maxLine, fn); err != nil {
		fail(err)
	}
}

// readLines calls fn for each line of r as eachLine does, reading through a
// buffer of bufSize bytes; a line over limit bytes comes with
// errLineTooLong. It returns the first read error.
func readLines(r io.Reader, bufSize, limit int, fn func(n int, line string, err error)) error {
	br := bufio.NewReaderSize(r, bufSize)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			if !tooLong && len(line)+len(chunk) > limit+len("\r\n") {
				tooLong, line = true, line[:0] // discard the rest as it comes
			}
			if !tooLong {
				line = append(line, chunk...)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil // no last line after the final newline
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
		if !tooLong && len(text) > limit {
			tooLong = true
		}
		if tooLong {
			fn(n, "", errLineTooLong)
		} else {
			fn(n, text, nil)
		}
		if err == io.EOF {
			return nil
		}
	}
}
