package v2g

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
)

func curated(t *testing.T, id string) []byte {
	t.Helper()
	for _, v := range readVectors(t) {
		if v.ID == id {
			b, err := hex.DecodeString(v.Hex)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no vector %s", id)
	return nil
}

// TestAnnexJFragments decodes the ISO 15118-2 Annex J signature example:
// the AuthorizationReq fragment whose SHA-256 is the DigestValue of the
// SignedInfo fragment, and that SignedInfo fragment itself.
func TestAnnexJFragments(t *testing.T) {
	b := curated(t, "iso2-annexJ-authreq-fragment")
	var f iso2.Fragment
	n, err := iso2.UnmarshalFragment(b, &f)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b) {
		t.Errorf("fragment took %d of %d bytes", n, len(b))
	}
	ar := f.AuthorizationReq
	if ar == nil || ar.Id == nil || *ar.Id != "ID1" || string(ar.GenChallenge) != "Some Random Data" {
		t.Fatalf("AuthorizationReq = %+v", ar)
	}
	out, err := iso2.AppendFragment(nil, &f)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encoded fragment %x, %v; want %x", out, err, b)
	}
	digest := sha256.Sum256(b)
	if got := base64.StdEncoding.EncodeToString(digest[:]); got != "0bXgPQBlvuVrMXmERTBR61TKGPwOCRYXT4s8d6mPSqk=" {
		t.Errorf("sha256 of the fragment = %s", got)
	}

	b = curated(t, "iso2-annexJ-signedinfo-fragment")
	var sf xmldsig.Fragment
	if _, err := xmldsig.UnmarshalFragment(b, &sf); err != nil {
		t.Fatal(err)
	}
	si := sf.SignedInfo
	if si == nil || len(si.Reference) != 1 {
		t.Fatalf("SignedInfo = %+v", si)
	}
	ref := si.Reference[0]
	if si.CanonicalizationMethod.Algorithm != "http://www.w3.org/TR/canonical-exi/" ||
		si.SignatureMethod.Algorithm != "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" ||
		ref.URI == nil || *ref.URI != "#ID1" || !bytes.Equal(ref.DigestValue, digest[:]) {
		t.Errorf("SignedInfo fields: c14n %q sig %q uri %v digest %x", si.CanonicalizationMethod.Algorithm,
			si.SignatureMethod.Algorithm, ref.URI, ref.DigestValue)
	}
	out, err = xmldsig.AppendFragment(nil, &sf)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encoded SignedInfo %x, %v; want %x", out, err, b)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != "a4e903e18243041b554e11647e101ed25fc9f2152af4674014fe2adeac1e1cf7" {
		t.Errorf("sha256 of SignedInfo = %x", got)
	}
}

// TestSignedMessageFragments takes a signed ISO-2 message (EXIficient)
// apart as a verifier would: the header's SignedInfo goes to the xmldsig
// fragment codec as it is (the codecs share the signature types), and the
// referenced SalesTariff encodes as an ISO-2 fragment that decodes back to
// the same value. (The example's DigestValue is not the SHA-256 of that
// fragment: the data file carries a placeholder digest and no signature.)
func TestSignedMessageFragments(t *testing.T) {
	b := curated(t, "iso2-cpdres-signed-salestariff")
	var d iso2.Document
	if _, err := iso2.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	sig := d.V2G_Message.Header.Signature
	res := d.V2G_Message.Body.ChargeParameterDiscoveryRes
	if sig == nil || res == nil || len(sig.SignedInfo.Reference) != 1 {
		t.Fatalf("not a signed ChargeParameterDiscoveryRes: %+v", d.V2G_Message)
	}
	ref := sig.SignedInfo.Reference[0]
	if res.SAScheduleList == nil || len(res.SAScheduleList.SAScheduleTuple) == 0 || res.SAScheduleList.SAScheduleTuple[0].SalesTariff == nil {
		t.Fatalf("no SalesTariff: %+v", res)
	}
	tariff := res.SAScheduleList.SAScheduleTuple[0].SalesTariff
	if ref.URI == nil || tariff.Id == nil || *ref.URI != "#"+*tariff.Id {
		t.Fatalf("reference %v does not name the SalesTariff (Id %v)", ref.URI, tariff.Id)
	}
	frag, err := iso2.AppendFragment(nil, &iso2.Fragment{SalesTariff: tariff})
	if err != nil {
		t.Fatal(err)
	}
	var back iso2.Fragment
	if _, err := iso2.UnmarshalFragment(frag, &back); err != nil || back.SalesTariff == nil || *back.SalesTariff.Id != "id1" ||
		len(back.SalesTariff.SalesTariffEntry) != len(tariff.SalesTariffEntry) {
		t.Fatalf("SalesTariff fragment %x decodes to %+v, %v", frag, back.SalesTariff, err)
	}
	si, err := xmldsig.AppendFragment(nil, &xmldsig.Fragment{SignedInfo: &sig.SignedInfo})
	if err != nil {
		t.Fatalf("SignedInfo fragment: %v", err)
	}
	var sb xmldsig.Fragment
	if _, err := xmldsig.UnmarshalFragment(si, &sb); err != nil || sb.SignedInfo == nil ||
		!bytes.Equal(sb.SignedInfo.Reference[0].DigestValue, ref.DigestValue) {
		t.Fatalf("SignedInfo fragment %x decodes to %+v, %v", si, sb.SignedInfo, err)
	}
}
