package v2g

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/ccslink/ccslink/proto/exi"
	"github.com/ccslink/ccslink/proto/v2g/iso2"
	"github.com/ccslink/ccslink/proto/v2g/xmldsig"
)

// serial20 is a 20-octet X.509 serial number, the longest RFC 5280 allows
// and what real V2G certificates carry.
const serial20 = "543694709949702439700621576012388083513039957436" // 0x5f3c1d2e4b6a798807162534435261708f9eadbc

func bigInteger(t *testing.T, s string) exi.Integer {
	t.Helper()
	v, err := exi.ParseInteger(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestX509SerialFragmentBits writes the X509SerialNumber fragment of a
// 20-octet serial bit by bit from EXI 1.0: header 0x80, SE(X509SerialNumber)
// (fragment code 41 of 47, 6 bits), CH (1 bit 0), the Integer (§7.1.5:
// sign 0, then 23 groups of 7 bits, least significant first, as octets
// with bit 7 set when another follows), EE (1 bit 0), end of fragment
// (code 46). Encoder and decoder must both agree with it.
func TestX509SerialFragmentBits(t *testing.T) {
	groups, _ := hex.DecodeString("bcdbfafc88ae98a9c3e894b1f180e2bcea96b9e9c1e717")
	var w exi.Writer
	w.Reset(nil)
	w.Bits(0x80, 8)
	w.Bits(41, 6)
	w.Bits(0, 1) // CH
	w.Bits(0, 1) // sign
	for _, g := range groups {
		w.Bits(uint32(g), 8)
	}
	w.Bits(0, 1) // EE
	w.Bits(46, 6)
	want := w.Bytes()

	serial := bigInteger(t, serial20)
	got, err := xmldsig.AppendFragment(nil, &xmldsig.Fragment{X509SerialNumber: &serial})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded %x, want %x", got, want)
	}
	var f xmldsig.Fragment
	n, err := xmldsig.UnmarshalFragment(want, &f)
	if err != nil || n != len(want) {
		t.Fatalf("decode: %d of %d bytes, %v", n, len(want), err)
	}
	if f.X509SerialNumber == nil || f.X509SerialNumber.String() != serial20 {
		t.Fatalf("X509SerialNumber = %v", f.X509SerialNumber)
	}
}

// TestX509SerialWide takes the real CertificateInstallationReq vector
// (serials 1234 and 5678), re-encodes it byte for byte, then gives its root
// certificate IDs a 20-octet serial, its negative, and the int64 and uint64
// boundaries, and round-trips them exactly through EXI and JSON.
func TestX509SerialWide(t *testing.T) {
	var b []byte
	for _, v := range readVectors(t) {
		if v.key() == "iso2-test.rs: certificate_install_request" {
			_, b, _ = schemaOf(v)
		}
	}
	if b == nil {
		t.Fatal("no certificate_install_request vector")
	}
	var d iso2.Document
	if _, err := iso2.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	ids := d.V2G_Message.Body.CertificateInstallationReq.ListOfRootCertificateIDs.RootCertificateID
	if ids[0].X509SerialNumber.Cmp(exi.NewInteger(1234)) != 0 || ids[1].X509SerialNumber.Cmp(exi.NewInteger(5678)) != 0 {
		t.Fatalf("serials %s, %s", ids[0].X509SerialNumber, ids[1].X509SerialNumber)
	}
	if out, err := iso2.Append(nil, &d); err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encoded %x, %v; want %x", out, err, b)
	}

	for _, s := range []string{serial20, "-" + serial20, "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616"} {
		ids[1].X509SerialNumber = bigInteger(t, s)
		out, err := iso2.Append(nil, &d)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var back iso2.Document
		if n, err := iso2.Unmarshal(out, &back); err != nil || n != len(out) {
			t.Fatalf("%s: decode %d of %d bytes: %v", s, n, len(out), err)
		}
		got := back.V2G_Message.Body.CertificateInstallationReq.ListOfRootCertificateIDs.RootCertificateID
		if got[1].X509SerialNumber.String() != s || got[0].X509SerialNumber.String() != "1234" {
			t.Errorf("%s: decoded %s, %s", s, got[0].X509SerialNumber, got[1].X509SerialNumber)
		}
		if again, err := iso2.Append(nil, &back); err != nil || !bytes.Equal(again, out) {
			t.Errorf("%s: second encoding %x, %v; first %x", s, again, err, out)
		}
		j, err := json.Marshal(&back)
		if err != nil || !strings.Contains(string(j), `"X509SerialNumber":`+s+`}`) {
			t.Errorf("%s: JSON %s, %v", s, j, err)
		}
		var fromJSON iso2.Document
		if err := json.Unmarshal(j, &fromJSON); err != nil {
			t.Fatal(err)
		}
		if again, err := iso2.Append(nil, &fromJSON); err != nil || !bytes.Equal(again, out) {
			t.Errorf("%s: encoding of the JSON form %x, %v; want %x", s, again, err, out)
		}
	}
	// The wide value costs its octets, no more: a serial of 2^159 bits
	// (20 octets) takes 23 groups where 5678 took 2.
	ids[1].X509SerialNumber = exi.IntegerFromBig(new(big.Int).Lsh(big.NewInt(1), 159))
	out, _ := iso2.Append(nil, &d)
	if len(out) != len(b)+21 {
		t.Errorf("a 160-bit serial made the document %d bytes, want %d", len(out), len(b)+21)
	}
}
