package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Car is a car of the owner's, recognised by its MAC (cars).
type Car struct {
	Name string   // for people, e.g. "Ioniq"
	ID   string   // stable: outputs, evcc and the SmartEVSE know the car by it
	MACs []string // patterns, lower case: 00:7d:fa:xx:xx:xx (x: any hex digit)
	// CapacityWh is the battery capacity when the car sends none; 0 = not given.
	CapacityWh int
	// Strategy is the handover strategy pinned for the car; "" = none.
	Strategy string
}

// MaxCars bounds the cars list.
const MaxCars = 64

// MACPattern reads a MAC pattern: six pairs of hex digits joined by ':'
// or '-', any digit may be x for "any". It returns the value and the mask
// of the digits given.
func MACPattern(s string) (value, mask [6]byte, ok bool) {
	if len(s) != 17 {
		return value, mask, false
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' && s[3*i-1] != '-' {
			return value, mask, false
		}
		for j := range 2 {
			c := s[3*i+j]
			shift := uint(4 * (1 - j))
			var v byte
			switch {
			case c == 'x' || c == 'X':
				continue
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				return value, mask, false
			}
			value[i] |= v << shift
			mask[i] |= 0xf << shift
		}
	}
	return value, mask, true
}

// CarByID returns the car of the cars list with this ID.
func (c Config) CarByID(id string) (Car, bool) {
	for _, car := range c.Cars {
		if car.ID == id {
			return car, true
		}
	}
	return Car{}, false
}

// cars reads the cars list.
func (p *yamlParser) cars(n ast.Node) {
	const key = "cars"
	if !p.plain(n, key) {
		return
	}
	switch s := n.(type) {
	case *ast.NullNode:
		p.c.Cars = nil
	case *ast.SequenceNode:
		p.c.Cars = nil
		for i, item := range s.Values {
			if i == MaxCars {
				line, col := where(item)
				p.l.add(line, col, key, ErrValue, "more than %d cars: keep the ones that charge here", MaxCars)
				return
			}
			p.car(fmt.Sprintf("%s[%d]", key, i), item)
		}
	default:
		line, col := where(n)
		p.l.add(line, col, key, ErrType, "must be a list of cars such as \"- {name: Ioniq, id: ioniq, mac: \\\"04:65:65:xx:xx:xx\\\"}\", not %s", describe(n))
	}
}

var carKeys = []string{"capacity_wh", "id", "mac", "name", "strategy"}

// car reads one entry of the cars list.
func (p *yamlParser) car(key string, n ast.Node) {
	line, col := where(n)
	var car Car
	seen := map[string]bool{}
	// Every item makes a car, a refused one too, so that the list's index
	// stays the file's and a later check of what is missing points at the
	// item.
	defer func() {
		for _, k := range carKeys {
			if !seen[k] {
				p.at[key+"."+k] = pos{line, col}
			}
		}
		p.c.Cars = append(p.c.Cars, car)
	}()
	if !p.plain(n, key) {
		return
	}
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		p.l.add(line, col, key, ErrType, "must be a car with name, id and mac, not %s", describe(n))
		return
	}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		kl, kc := where(mv.Key)
		if !p.plain(mv.Key, key) {
			continue
		}
		k, ok := mv.Key.(*ast.StringNode)
		if !ok {
			p.l.add(kl, kc, key, ErrSyntax, "%s is not a key name: the keys here are %s", describe(mv.Key), strings.Join(carKeys, ", "))
			continue
		}
		full := key + "." + k.Value
		if seen[k.Value] {
			p.l.add(kl, kc, full, ErrSyntax, "given twice: keep one")
			continue
		}
		seen[k.Value] = true
		v := mv.Value
		if v == nil {
			v = ast.Null(nil)
		}
		if vl, vc := where(v); vl > 0 && v.Type() != ast.NullType {
			p.at[full] = pos{vl, vc}
		} else {
			p.at[full] = pos{kl, kc}
		}
		switch k.Value {
		case "name":
			p.scalar(full, v, &car.Name)
		case "id":
			p.scalar(full, v, &car.ID)
		case "capacity_wh":
			p.scalar(full, v, &car.CapacityWh)
		case "strategy":
			p.scalar(full, v, &car.Strategy)
		case "mac":
			car.MACs = p.macs(full, v)
		default:
			p.l.add(kl, kc, full, ErrUnknownKey, "unknown key%s", suggest("cars.", k.Value))
		}
	}
	for _, k := range []string{"name", "id", "mac"} {
		if !seen[k] {
			p.l.add(line, col, key+"."+k, ErrValue, "missing: every car needs a name, an id (its stable ID) and a mac pattern such as \"04:65:65:xx:xx:xx\"")
		}
	}
}

// macs reads a car's mac: one pattern or a list of them.
func (p *yamlParser) macs(key string, n ast.Node) []string {
	var out []string
	if s, ok := n.(*ast.SequenceNode); ok {
		for i, item := range s.Values {
			full := fmt.Sprintf("%s[%d]", key, i)
			if l, c := where(item); l > 0 {
				p.at[full] = pos{l, c}
			}
			var v string
			p.scalar(full, item, &v)
			out = append(out, strings.ToLower(v))
		}
		return out
	}
	var v string
	p.scalar(key, n, &v)
	return []string{strings.ToLower(v)}
}

// checkCars adds an error for every wrong value of the cars list.
func (c Config) checkCars(bad func(key, format string, args ...any), text func(key, v string) bool) {
	ids := map[string]int{}
	for i, car := range c.Cars {
		key := fmt.Sprintf("cars[%d]", i)
		if text(key+".name", car.Name) && (strings.TrimSpace(car.Name) == "" || len(car.Name) > 64) {
			bad(key+".name", "%q is not a car's name: 1 to 64 characters, e.g. Ioniq", car.Name)
		}
		switch {
		case !validID(car.ID):
			bad(key+".id", "%q is not a car's ID: 1 to 31 lower-case letters, digits, '-', '_' and '.' (the SmartEVSE keeps 31), e.g. ioniq", car.ID)
		default:
			if j, dup := ids[car.ID]; dup {
				bad(key+".id", "%q is already the ID of cars[%d]: each car needs its own", car.ID, j)
			} else {
				ids[car.ID] = i
			}
		}
		if len(car.MACs) == 0 {
			bad(key+".mac", "empty: give the car's MAC, or a pattern such as \"00:7d:fa:xx:xx:xx\"")
		}
		if len(car.MACs) > 16 {
			bad(key+".mac", "%d patterns: at most 16", len(car.MACs))
		}
		for j, m := range car.MACs {
			k := key + ".mac"
			if len(car.MACs) > 1 {
				k = fmt.Sprintf("%s[%d]", k, j)
			}
			if _, _, ok := MACPattern(m); !ok {
				bad(k, "%q is not a MAC pattern: six pairs of hex digits joined by ':', x for any digit, e.g. \"00:7d:fa:xx:xx:xx\"", m)
			}
		}
		if car.CapacityWh != 0 && (car.CapacityWh < 1000 || car.CapacityWh > 500000) {
			bad(key+".capacity_wh", "%d Wh is not a battery capacity: give it in Wh, from 1000 to 500000 (28 kWh is 28000)", car.CapacityWh)
		}
		switch {
		case car.Strategy == "":
		case !validStrategy(car.Strategy):
			bad(key+".strategy", "%q is not a strategy name: lower-case letters, digits and '-', e.g. deliver-now", car.Strategy)
		case !slices.Contains(Strategies, car.Strategy):
			bad(key+".strategy", "%q is not a handover strategy: use one of %s", car.Strategy, strings.Join(Strategies, ", "))
		case car.Strategy == "x1-then-pwm" && !c.SmartEVSE.WritePWM:
			bad(key+".strategy", "x1-then-pwm writes override_pwm to the SmartEVSE: allow it with smartevse.write_pwm: true, or pin another strategy")
		}
	}
}

// validID reports whether s may be a car's ID.
func validID(s string) bool {
	if s == "" || len(s) > 31 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Strategies are the handover strategies a car can be pinned to.
// no-negotiation and identify-only act before the car's V2G session, when
// it is known by its MAC alone: a pattern of mac must match the car's
// SLAC MAC (a VW group car's 00:7d:fa:xx:xx:xx does).
var Strategies = []string{"deliver-now", "end-then-deliver", "x1-then-pwm", "no-negotiation", "identify-only"}

func validStrategy(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
