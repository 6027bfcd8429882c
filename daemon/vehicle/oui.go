package vehicle

//go:generate go run ./internal/ouigen/cmd/ouigen -ieee /usr/share/ieee-data -o oui_table.go

// Role says what the organisation owning a MAC block is to a car.
type Role uint8

// Roles of a Maker.
const (
	RoleMaker    Role = iota + 1 // builds cars
	RoleSupplier                 // builds a car's on-board charger or charging module
)

// Maker is the organisation whose registered block holds a car's MAC.
type Maker struct {
	Name string
	Role Role
}

// ouiBlock is one registered block: bits leading bits of prefix.
type ouiBlock struct {
	prefix uint64
	bits   uint8
	org    uint8
}

// randomOUIs are makers' blocks whose cars keep the block and draw the
// rest of the MAC anew per session: VW group MEB cars (00:7D:FA), from
// EVerest's ID.3 captures and public reports (cars.md).
var randomOUIs = [][3]byte{{0x00, 0x7d, 0xfa}}

// MakerOf returns the car maker or supplier that registered mac's block
// (the longest registered prefix: MA-S, MA-M, then MA-L).
func MakerOf(mac MAC) (Maker, bool) {
	if mac.Local() {
		return Maker{}, false
	}
	v := mac.uint64()
	best := -1
	for i, b := range ouiTable {
		if v>>(48-uint64(b.bits)) == b.prefix>>(48-uint64(b.bits)) && (best < 0 || b.bits > ouiTable[best].bits) {
			best = i
		}
	}
	if best < 0 {
		return Maker{}, false
	}
	return ouiOrgs[ouiTable[best].org], true
}

// MAC is a car's Ethernet address (its EVCCID in SessionSetupReq, its
// modem's in SLAC).
type MAC [6]byte

// ParseMAC reads aa:bb:cc:dd:ee:ff (or with '-') or twelve hex digits, any case.
func ParseMAC(s string) (MAC, bool) {
	var m MAC
	switch len(s) {
	case 12:
		for i := range m {
			h, ok1 := unhex(s[2*i])
			l, ok2 := unhex(s[2*i+1])
			if !ok1 || !ok2 {
				return MAC{}, false
			}
			m[i] = h<<4 | l
		}
	case 17:
		for i := range m {
			if i > 0 && s[3*i-1] != ':' && s[3*i-1] != '-' {
				return MAC{}, false
			}
			h, ok1 := unhex(s[3*i])
			l, ok2 := unhex(s[3*i+1])
			if !ok1 || !ok2 {
				return MAC{}, false
			}
			m[i] = h<<4 | l
		}
	default:
		return MAC{}, false
	}
	return m, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (m MAC) uint64() uint64 {
	var v uint64
	for _, b := range m {
		v = v<<8 | uint64(b)
	}
	return v
}

// String writes the MAC as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexd[x>>4], hexd[x&15])
	}
	return string(b)
}

// Local reports the locally administered bit: a MAC the car made up.
func (m MAC) Local() bool { return m[0]&0x02 != 0 }

// Random reports whether the car draws this MAC anew per session, in
// whole (locally administered) or after its maker's block (VW group).
func (m MAC) Random() bool {
	if m.Local() {
		return true
	}
	for _, o := range randomOUIs {
		if m[0] == o[0] && m[1] == o[1] && m[2] == o[2] {
			return true
		}
	}
	return false
}
