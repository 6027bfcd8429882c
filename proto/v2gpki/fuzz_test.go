package v2gpki

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: whatever the three files hold (each within Load's bound),
// parse returns a sound chain or one of the package's errors, never a
// panic. Seeded with a real chain's files, and each file swapped.
func FuzzParse(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "pki")
	if err := initAt(dir, "DE*ABC*E1", P256, t0); err != nil {
		f.Fatal(err)
	}
	var files [3][]byte
	for i, n := range []string{RootFile, ChainFile, KeyFile} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatal(err)
		}
		files[i] = b
	}
	f.Add(files[0], files[1], files[2])
	f.Add(files[1], files[0], files[2])
	f.Add(files[0], files[1], files[1])
	f.Add(files[0], append(files[1], files[0]...), files[2])
	f.Add([]byte{}, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAA==\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, root, chain, key []byte) {
		if len(root) > maxFileSize || len(chain) > maxFileSize || len(key) > maxFileSize {
			return // Load refuses these before parsing
		}
		c, err := parse("DIR", root, chain, key, t0)
		if err != nil {
			var (
				fe *FormatError
				ve *ValidityError
				ce *ChainError
				ke *KeyMismatchError
				cu *CurveError
			)
			if c != nil || !errors.As(err, &fe) && !errors.As(err, &ve) && !errors.As(err, &ce) && !errors.As(err, &ke) && !errors.As(err, &cu) {
				t.Fatalf("%v, error %T %v", c, err, err)
			}
			return
		}
		if !c.Key.PublicKey.Equal(c.Leaf().PublicKey) || len(c.Certs) == 0 || len(c.Certs) > maxChainCerts {
			t.Fatalf("a chain that is not sound: %d certificates", len(c.Certs))
		}
	})
}
