package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The kinds of configuration error; an *Error wraps one of them (or the
// error of reading the file), for errors.Is.
var (
	ErrSyntax     = errors.New("not valid YAML or ini")
	ErrUnknownKey = errors.New("unknown key")
	ErrType       = errors.New("wrong type")
	ErrValue      = errors.New("wrong value")
	ErrMode       = errors.New("pyPLC mode other than EvseMode")
)

// Error is one mistake in a configuration file, at its line and column
// (both 0 when unknown, as for a Config checked by Validate).
type Error struct {
	File         string
	Line, Column int
	Key          string // the key's full name, e.g. "mqtt.broker"; "" when none
	Msg          string
	Err          error // ErrSyntax, ErrUnknownKey, ErrType, ErrValue, ErrMode or a read error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Key != "" {
		b.WriteString(brief(e.Key))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the kind of the error.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every mistake found in one file, in the order of the file.
type Errors []*Error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (l Errors) Unwrap() []error {
	s := make([]error, len(l))
	for i, e := range l {
		s[i] = e
	}
	return s
}

// list collects errors as they are found.
type list struct{ errs Errors }

func (l *list) add(line, col int, key string, kind error, format string, args ...any) {
	l.errs = append(l.errs, &Error{Line: line, Column: col, Key: key, Msg: fmt.Sprintf(format, args...), Err: kind})
}

// err returns the collected errors, or nil.
func (l *list) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}

// withFile names the file in every error of err.
func withFile(err error, name string) error {
	var l Errors
	var e *Error
	switch {
	case errors.As(err, &l):
		for _, e := range l {
			e.File = name
		}
	case errors.As(err, &e):
		e.File = name
	}
	return err
}

// brief shortens a value quoted in a message: a wrong value of a megabyte
// is recognised by its start.
func brief(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
