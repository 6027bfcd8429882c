package exigen

import (
	"bytes"
	"fmt"
	"strings"
)

// emitter collects the Go source of one generated file, one line per call.
// Indentation and spacing are left to go/format, which runs on every file.
type emitter struct {
	buf bytes.Buffer
}

// line writes one line formatted as by fmt.Sprintf.
func (w *emitter) line(format string, args ...any) {
	fmt.Fprintf(&w.buf, format, args...)
	w.buf.WriteByte('\n')
}

// open writes a line that opens a block: the line and " {".
func (w *emitter) open(format string, args ...any) {
	fmt.Fprintf(&w.buf, format, args...)
	w.buf.WriteString(" {\n")
}

// close ends the innermost block.
func (w *emitter) close() { w.buf.WriteString("}\n") }

// closeDecl ends a top-level declaration's block and leaves a blank line.
func (w *emitter) closeDecl() { w.buf.WriteString("}\n\n") }

// blank leaves a blank line, after a top-level declaration without a block.
func (w *emitter) blank() { w.buf.WriteByte('\n') }

// comment writes text as // comment lines, one per line of text.
func (w *emitter) comment(text string) {
	for l := range strings.SplitSeq(text, "\n") {
		w.line("// %s", l)
	}
}

// check writes "if err := <call>; err != nil { return <ret>err }": ret is ""
// in a function that returns only an error, "0, " or "dst, " otherwise.
func (w *emitter) check(ret, call string, args ...any) {
	w.ifReturn(ret+"err", "err := %s; err != nil", fmt.Sprintf(call, args...))
}

// ifReturn writes "if <cond> { return <results> }".
func (w *emitter) ifReturn(results, cond string, args ...any) {
	w.open("if "+cond, args...)
	w.line("return %s", results)
	w.close()
}

// assign writes "<lhs>, err := <call>" and the return of its error.
func (w *emitter) assign(ret, lhs, call string) {
	w.line("%s, err := %s", lhs, call)
	w.open("if err != nil")
	w.line("return %serr", ret)
	w.close()
}
