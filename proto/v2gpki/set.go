package v2gpki

import (
	"crypto/tls"
	"fmt"
	"slices"
)

// Set is the chains a charger serves at once, at most one per curve: a
// charger that serves both editions holds ISO 15118-2's chain on P-256
// and -20's on P-521. Both kinds of car arrive on one TLS port, and the
// application protocol is chosen only after TLS, so the ClientHello
// chooses the chain (Pick).
type Set struct {
	p256, p521 *Chain
}

// CurveTakenError reports two chains on one curve: which of them a car
// would get could not be told.
type CurveTakenError struct {
	Curve         Curve
	First, Second string // the chains' directories
}

func (e *CurveTakenError) Error() string {
	return fmt.Sprintf("%s and %s both hold a chain on %s (%s's): a charger serves at most one chain per curve, ISO 15118-2's on secp256r1 and -20's on secp521r1; give only one of them",
		e.First, e.Second, e.Curve.Standard(), e.Curve.Edition())
}

// NewSet holds chains, at least one and at most one per curve; a second
// chain on a curve is a *CurveTakenError.
func NewSet(chains ...*Chain) (*Set, error) {
	if len(chains) == 0 {
		return nil, fmt.Errorf("v2gpki: a set of no chains")
	}
	s := &Set{}
	for _, c := range chains {
		slot := &s.p256
		if c.Curve == P521 {
			slot = &s.p521
		}
		if *slot != nil {
			return nil, &CurveTakenError{Curve: c.Curve, First: (*slot).Dir, Second: c.Dir}
		}
		*slot = c
	}
	return s, nil
}

// Chains are the set's chains, the P-256 one first.
func (s *Set) Chains() []*Chain {
	var out []*Chain
	for _, c := range []*Chain{s.p256, s.p521} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// On is the set's chain on curve c; nil if it has none.
func (s *Set) On(c Curve) *Chain {
	switch c {
	case P256:
		return s.p256
	case P521:
		return s.p521
	}
	return nil
}

// Pick is the chain a car gets, by its ClientHello: the P-521 chain when
// the car offers TLS 1.3 (which the set's configurations prefer) and
// ecdsa_secp521r1_sha512, as a -20 car does; else the P-256 chain, the one
// ISO 15118-2's TLS 1.2 allows and any TLS 1.3 car can check. A set of one
// chain always picks it.
func (s *Set) Pick(hi *tls.ClientHelloInfo) *Chain {
	if s.p521 != nil && (s.p256 == nil ||
		slices.Contains(hi.SupportedVersions, tls.VersionTLS13) && slices.Contains(hi.SignatureSchemes, tls.ECDSAWithP521AndSHA512)) {
		return s.p521
	}
	return s.p256
}

// ServerConfig is the SECC's TLS configuration with the set. One chain is
// served exactly as Chain.ServerConfig serves it. With both, o.Profile's
// versions are served as by the P-256 chain, and each car gets the chain
// Pick gives it; under ISO2 (TLS 1.2 alone) that is always the P-256 one.
func (s *Set) ServerConfig(o Options) (*tls.Config, error) {
	if s.p256 == nil || s.p521 == nil {
		return s.Chains()[0].ServerConfig(o)
	}
	cfg, err := s.p256.ServerConfig(o)
	if err != nil {
		return nil, err
	}
	// crypto/tls's own choice among Certificates is not enough: in TLS
	// 1.2 ecdsa_secp521r1_sha512 names only the hash, so a -2 car that
	// offers it and P-521 would get -20's chain.
	p256, p521 := s.p256.certificate(), s.p521.certificate()
	cfg.Certificates = nil
	cfg.GetCertificate = func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if s.Pick(hi) == s.p521 {
			return &p521, nil
		}
		return &p256, nil
	}
	return cfg, nil
}
