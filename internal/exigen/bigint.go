package exigen

// isBigInteger reports an xs:integer without range facets (xmldsig's
// X509SerialNumber and HMACOutputLength, the only ones in the V2G
// schemas): its Go type is exi.Integer, read and written at any length as
// a signed Integer (EXI 1.0 §7.1.5). A bounded xs:integer keeps a Go
// integer type.
func isBigInteger(st *SimpleType) bool {
	return len(st.Enum) == 0 && st.Builtin == "integer" && st.Min == nil && st.Max == nil
}
