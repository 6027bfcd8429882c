// Package v2g holds the generated EXI codecs of the V2G message sets, one
// sub-package per schema set: apphand (SupportedAppProtocol), din (DIN SPEC
// 70121), iso2 (ISO 15118-2) and iso20 with ac, dc, acdp and wpt (ISO
// 15118-20). Run go generate here to rebuild them from the schemas in
// shared/schemas beside the repository.
//
// Each package decodes with Unmarshal, into new memory a caller may keep,
// or with a Decoder, which reuses one document's memory from message to
// message (what a session does: no allocation once a message kind has been
// seen), and encodes with Append into a caller's buffer.
package v2g

//go:generate go run ../../internal/exigen/cmd/exigen -schemas ../../../shared/schemas -out .
