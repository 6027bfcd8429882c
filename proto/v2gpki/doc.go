// Package v2gpki is the charger's side of the V2G public key
// infrastructure: a test PKI for benches (Init), the SECC's certificate
// chain checked at start (Load), and the TLS configurations ISO 15118
// asks for (Chain.ServerConfig).
//
// A directory holds three files, named as in EVerest's and RISE-V2G's
// test PKIs:
//
//	v2gRootCACert.pem  the V2G root the chain must lead to (a car holds this one)
//	cpoCertChain.pem   the SECC leaf first (its subject CN is the EVSEID), then
//	                   CPO Sub-CA 2, then CPO Sub-CA 1; the root is not sent
//	seccLeaf.key       the SECC leaf's private key, PKCS#8 PEM, mode 0600
//
// Init writes a chain of the ISO 15118-2 profiles (Annex F), all ECDSA on
// P-256 signed ECDSA-SHA256: the root (CA, path length 2), CPO Sub-CA 1
// (CA, path length 1), CPO Sub-CA 2 (CA, path length 0), each with
// keyCertSign and cRLSign, and the SECC leaf (not a CA; digitalSignature
// and keyAgreement). InitCurve with P521 writes the same on P-521 signed
// ECDSA-SHA512, as ISO 15118-20 asks; such a chain serves TLS 1.3 alone.
// A Set serves a chain of each on one port: each car gets the chain of
// its edition, by its ClientHello.
// The CA keys are not kept: nobody can issue more certificates under a
// test root.
//
// A car that validates the SECC's chain against the real V2G root refuses
// a test chain; such a car needs a chain from the owner's CPO (issued under
// the V2G root or an OEM's), put in the same three files. Most cars today
// ask SDP for no TLS, and are served on the plain port as before.
package v2gpki
