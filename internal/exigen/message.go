package exigen

import (
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The V2G messages of every schema set share one kind, message.Kind, whose
// constants are the union of the element names of the messages: the
// members of a Body substitution group (DIN, ISO-2) and the global elements
// named ...Req or ...Res (the handshake, ISO-20). Each codec maps its own
// kinds to it, so code outside the codecs names a message by a constant
// and never compares names as strings.

// messageDir is the package of message.Kind under the output directory.
const messageDir = "message"

// isMessageName reports whether a global element is a message: a request or a response.
func isMessageName(local string) bool {
	return strings.HasSuffix(local, "Req") || strings.HasSuffix(local, "Res")
}

// messageConst is the Go name of the message.Kind constant of an element name.
func messageConst(local string) string { return goIdent(local) }

// messageList returns the message.Kind constants of the Body fields fs,
// after message.None, for the table of MessageKind.Message; it notes the
// names for package message.
func (g *gen) messageList(fs []*Field) string {
	l := []string{"message.None"}
	for _, f := range fs {
		l = append(l, "message."+messageConst(f.Q.Local))
		g.msgs = append(g.msgs, f.Q.Local)
	}
	return strings.Join(l, ", ")
}

// emitDocumentMessage writes Document.Message for a schema set without a
// Body type: the kind of its root element when that is a message.
func (g *gen) emitDocumentMessage() {
	var roots []*Element
	for _, e := range g.globals {
		if isMessageName(e.Name.Local) {
			roots = append(roots, e)
			g.msgs = append(g.msgs, e.Name.Local)
		}
	}
	if len(roots) == 0 {
		return
	}
	w := g.file(fileTypes)
	w.line("// Message returns the kind of the document's root element, or")
	w.line("// message.None when it is not a message.")
	w.open("func (d *Document) Message() message.Kind")
	w.open("switch")
	for _, e := range roots {
		w.line("case d.%s != nil:", goIdent(e.Name.Local))
		w.line("return message.%s", messageConst(e.Name.Local))
	}
	w.close()
	w.line("return message.None")
	w.closeDecl()
}

// messageSource is the file of package message that GenerateAll writes.
const messageSource = "kind.go"

// messageFile returns the generated file of package message: the kinds of
// byPkg's messages (package directory -> element names), in name order.
func messageFile(byPkg map[string][]string) (File, error) {
	where := map[string][]string{}
	for _, p := range Packages {
		for _, n := range byPkg[p.Dir] {
			if !slices.Contains(where[n], p.Dir) {
				where[n] = append(where[n], p.Dir)
			}
		}
	}
	names := make([]string, 0, len(where))
	for n := range where {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) >= 255 {
		return File{}, fmt.Errorf("%d message names do not fit message.Kind (uint8)", len(names))
	}
	var w emitter
	w.line("%s from shared/schemas; DO NOT EDIT.", generatedHeader)
	w.blank()
	w.comment("Package message names the V2G messages of every schema set (DIN SPEC\n" +
		"70121, ISO 15118-2, ISO 15118-20 and the SupportedAppProtocol handshake)\n" +
		"by one kind, Kind, whose String is the message's element name. Each codec\n" +
		"maps its messages to it (din.MessageKind.Message, iso20.Document.Message),\n" +
		"so that code outside the codecs names a message by a constant, never by a\n" +
		"string, and every log line and output spells it the same way.")
	w.line("package message")
	w.blank()
	w.line("import \"strconv\"")
	w.blank()
	w.line("// Kind names one V2G message of any schema set; the comment of each")
	w.line("// constant lists the codecs (packages under v2g) that have it.")
	w.line("type Kind uint8")
	w.blank()
	w.line("// The kinds, in the order of their names.")
	w.line("const (")
	w.line("None Kind = iota // no message")
	for _, n := range names {
		w.line("%s // %s", messageConst(n), strings.Join(where[n], ", "))
	}
	w.line("NumKinds // the number of kinds, for tables indexed by kind")
	w.line(")")
	w.blank()
	w.line("var names = [...]string{\"None\", %s}", quoteList(names))
	w.blank()
	req := make([]string, len(names)+1)
	req[0] = "None"
	for i, n := range names {
		switch {
		case strings.HasSuffix(n, "Req"):
			req[i+1] = messageConst(n)
		case strings.HasSuffix(n, "Res") && where[strings.TrimSuffix(n, "Res")+"Req"] != nil:
			req[i+1] = messageConst(strings.TrimSuffix(n, "Res") + "Req")
		default:
			req[i+1] = "None"
		}
	}
	w.line("// requests holds the request of each kind: itself for a request, the")
	w.line("// request it answers for a response, None otherwise.")
	w.line("var requests = [...]Kind{%s}", strings.Join(req, ", "))
	w.blank()
	w.line("// String returns the message's element name as the schema spells it, such")
	w.line("// as \"ChargeParameterDiscoveryReq\" or \"supportedAppProtocolReq\"; \"None\" for None.")
	w.open("func (k Kind) String() string")
	w.open("if k < NumKinds")
	w.line("return names[k]")
	w.close()
	w.line("return \"Kind(\" + strconv.Itoa(int(k)) + \")\"")
	w.closeDecl()
	w.line("// Request returns the request k answers when k is a response, k itself")
	w.line("// when it is a request, and None otherwise.")
	w.open("func (k Kind) Request() Kind")
	w.open("if k < NumKinds")
	w.line("return requests[k]")
	w.close()
	w.line("return None")
	w.closeDecl()
	w.line("// IsRequest reports whether k is a request (the car's).")
	w.line("func (k Kind) IsRequest() bool { return k != None && k.Request() == k }")
	w.blank()
	w.line("// IsResponse reports whether k is a response (the charger's).")
	w.line("func (k Kind) IsResponse() bool { return k.Request() != None && k.Request() != k }")
	w.blank()
	src, err := format.Source(w.buf.Bytes())
	if err != nil {
		return File{}, fmt.Errorf("message: generated code does not parse: %w", err)
	}
	return File{messageSource, src}, nil
}

// writeMessage writes package message under outDir and returns the path
// written, removing generated files of the package it no longer writes.
func writeMessage(outDir string, byPkg map[string][]string) (string, error) {
	f, err := messageFile(byPkg)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(outDir, messageDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	stale, err := generatedIn(dir)
	if err != nil {
		return "", err
	}
	for _, name := range stale {
		if name != f.Name {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return "", err
			}
		}
	}
	path := filepath.Join(dir, f.Name)
	return path, os.WriteFile(path, f.Data, 0o644)
}
