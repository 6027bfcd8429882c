package message

import "fmt"

// byName finds a kind by its name; built once from names.
var byName = func() map[string]Kind {
	m := make(map[string]Kind, NumKinds)
	for k := Kind(1); k < NumKinds; k++ {
		m[names[k]] = k
	}
	return m
}()

// Parse returns the kind named name (its element name, as String gives it).
func Parse(name string) (Kind, bool) {
	k, ok := byName[name]
	return k, ok
}

// UnknownError is the error of UnmarshalText for a name that is no V2G message.
type UnknownError struct{ Name string }

func (e *UnknownError) Error() string {
	return fmt.Sprintf("%.64q is not the name of a V2G message of DIN 70121, ISO 15118-2, ISO 15118-20 or the handshake", e.Name)
}

// MarshalText gives k's name, so that JSON carries the name String gives;
// None is the empty text, as a field that had no message was before.
func (k Kind) MarshalText() ([]byte, error) {
	if k == None {
		return []byte{}, nil
	}
	if k >= NumKinds {
		return nil, fmt.Errorf("message: no name for %v", k)
	}
	return []byte(names[k]), nil
}

// UnmarshalText reads what MarshalText wrote: a message's name, or the
// empty text for None.
func (k *Kind) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = None
		return nil
	}
	v, ok := byName[string(b)]
	if !ok {
		return &UnknownError{Name: string(b)}
	}
	*k = v
	return nil
}
