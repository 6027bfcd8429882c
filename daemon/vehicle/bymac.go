package vehicle

// ByMAC is what is known of a car from its SLAC MAC alone, before its V2G
// session: the owner's car whose pattern it matches, else, for a fixed
// MAC, the ID Recognise gives it (the MAC in hex). A random MAC (a VW
// group car's) tells nothing until the car's fingerprint is complete at
// its harvest: ok is false then, unless a pattern matches.
type ByMAC struct {
	ID      string
	Known   *Known // the owner's car, nil when none matched
	VWGroup bool   // the MAC's block is VW group's (Volkswagen, Audi, Porsche)
}

// vwGroup are the makers of VW group in the OUI table.
var vwGroup = []string{"Volkswagen", "Audi", "Porsche"}

// VWGroup reports whether m's block belongs to a VW group maker (e.g.
// 00:7d:fa, which MEB cars keep while they randomise the rest).
func VWGroup(m MAC) bool {
	mk, ok := MakerOf(m)
	if !ok || mk.Role != RoleMaker {
		return false
	}
	for _, n := range vwGroup {
		if mk.Name == n {
			return true
		}
	}
	return false
}

// OfMAC tells what is known of the car with SLAC MAC m before its session.
// It reads only the owner's cars list, which never changes, so it is safe
// beside Recognise.
func (r *Recogniser) OfMAC(m MAC) (ByMAC, bool) {
	b := ByMAC{VWGroup: VWGroup(m)}
	for i, k := range r.known {
		for _, p := range k.Patterns {
			if p.Match(m) {
				b.ID, b.Known = k.ID, &r.known[i]
				return b, true
			}
		}
	}
	if m.Random() {
		return b, false
	}
	b.ID = hexMAC(m)
	return b, true
}
