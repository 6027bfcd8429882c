// Package exi is the runtime of the schema-informed EXI 1.0 codec that V2G
// messages use: bit-packed, non-strict grammars, header byte 0x80, no
// options, literal strings on output (ISO 15118-2 Annex A, DIN SPEC 70121).
//
// The generated packages under v2g hold the types and grammar tables of
// each schema set; this package reads and writes the bits: event codes
// (driven by a Grammar table), n-bit and variable-length integers,
// booleans, strings and binary values. Every decoding error is an *Error
// carrying the bit position where the input went wrong.
package exi
