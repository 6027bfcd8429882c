package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// sections are the keys whose value is a mapping of further keys.
var sections = map[string]bool{"v2g": true, "slac": true, "smartevse": true, "mqtt": true, "http": true, "recordings": true, "sessions": true, "log": true}

// scalars maps every scalar key to its field: *string, *bool, *int, *float64 or *time.Duration.
var scalars = map[string]func(c *Config) any{
	"name":                        func(c *Config) any { return &c.Name },
	"interface":                   func(c *Config) any { return &c.Interface },
	"policy":                      func(c *Config) any { return &c.Policy },
	"evse_id":                     func(c *Config) any { return &c.EVSEID },
	"emulate_modem":               func(c *Config) any { return &c.EmulateModem },
	"v2g_port":                    func(c *Config) any { return &c.V2GPort },
	"v2g.iso20":                   func(c *Config) any { return &c.V2G.ISO20 },
	"v2g.iso20_first":             func(c *Config) any { return &c.V2G.ISO20First },
	"slac.init_timeout":           func(c *Config) any { return &c.SLAC.InitTimeout },
	"smartevse.url":               func(c *Config) any { return &c.SmartEVSE.URL },
	"smartevse.timeout":           func(c *Config) any { return &c.SmartEVSE.Timeout },
	"smartevse.window":            func(c *Config) any { return &c.SmartEVSE.Window },
	"smartevse.vehicle_id":        func(c *Config) any { return &c.SmartEVSE.VehicleID },
	"smartevse.watch":             func(c *Config) any { return &c.SmartEVSE.Watch },
	"smartevse.write_pwm":         func(c *Config) any { return &c.SmartEVSE.WritePWM },
	"smartevse.follow":            func(c *Config) any { return &c.SmartEVSE.Follow },
	"smartevse.charge_efficiency": func(c *Config) any { return &c.SmartEVSE.ChargeEfficiency },
	"smartevse.update_interval":   func(c *Config) any { return &c.SmartEVSE.UpdateInterval },
	"mqtt.broker":                 func(c *Config) any { return &c.MQTT.Broker },
	"mqtt.prefix":                 func(c *Config) any { return &c.MQTT.Prefix },
	"mqtt.client_id":              func(c *Config) any { return &c.MQTT.ClientID },
	"mqtt.username":               func(c *Config) any { return &c.MQTT.Username },
	"mqtt.password":               func(c *Config) any { return &c.MQTT.Password },
	"mqtt.home_assistant":         func(c *Config) any { return &c.MQTT.HomeAssistant },
	"mqtt.discovery_prefix":       func(c *Config) any { return &c.MQTT.DiscoveryPrefix },
	"mqtt.update_interval":        func(c *Config) any { return &c.MQTT.UpdateInterval },
	"http.listen":                 func(c *Config) any { return &c.HTTP.Listen },
	"http.token":                  func(c *Config) any { return &c.HTTP.Token },
	"http.update_interval":        func(c *Config) any { return &c.HTTP.UpdateInterval },
	"state_dir":                   func(c *Config) any { return &c.StateDir },
	"recordings.keep":             func(c *Config) any { return &c.Recordings.Keep },
	"sessions.keep":               func(c *Config) any { return &c.Sessions.Keep },
	"log.level":                   func(c *Config) any { return &c.Log.Level },
}

// yamlParser walks the YAML syntax tree into a Config, noting where each
// key's value is so that Validate's errors get a line and column.
type yamlParser struct {
	c  Config
	at map[string]pos
	l  list
}

func parseYAML(data []byte) (Config, error) {
	p := &yamlParser{c: Default(), at: map[string]pos{}}
	f, err := parseTree(data)
	if err != nil {
		return Config{}, err
	}
	var body ast.Node
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if body != nil {
			line, col := where(d.Body)
			p.l.add(line, col, "", ErrSyntax, "a second YAML document: the file holds one (remove the '---' line)")
			break
		}
		body = d.Body
	}
	if body != nil {
		p.mapping(body, "")
	}
	var v list
	p.c.check(&v, p.at)
	for _, e := range v.errs {
		if !slices.ContainsFunc(p.l.errs, func(o *Error) bool { return o.Key == e.Key }) {
			p.l.errs = append(p.l.errs, e)
		}
	}
	slices.SortStableFunc(p.l.errs, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	if err := p.l.err(); err != nil {
		return Config{}, err
	}
	return p.c, nil
}

// parseTree parses data into a syntax tree, its syntax errors as *Error.
func parseTree(data []byte) (f *ast.File, err error) {
	// The parser is third-party code fed with whatever file it is given: a
	// panic there must be a syntax error, not a crash of the daemon.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, Errors{{Msg: fmt.Sprintf("not valid YAML (the parser failed: %v)", r), Err: ErrSyntax}}
		}
	}()
	f, err = parser.ParseBytes(data, 0)
	if err != nil {
		e := &Error{Msg: "not valid YAML: " + err.Error(), Err: ErrSyntax}
		if ye, ok := err.(yaml.Error); ok {
			e.Msg = "not valid YAML: " + ye.GetMessage()
			if t := ye.GetToken(); t != nil && t.Position != nil {
				e.Line, e.Column = t.Position.Line, t.Position.Column
			}
		}
		return nil, Errors{e}
	}
	return f, nil
}

// where is a node's line and column.
func where(n ast.Node) (line, col int) {
	switch m := n.(type) {
	case nil:
		return 0, 0
	case *ast.MappingValueNode: // its token is the ':'
		if m != nil && m.Key != nil {
			return where(m.Key)
		}
	case *ast.MappingNode:
		if m != nil && len(m.Values) > 0 && m.Values[0] != nil {
			return where(m.Values[0])
		}
	}
	t := n.GetToken()
	if t == nil || t.Position == nil {
		return 0, 0
	}
	return t.Position.Line, t.Position.Column
}

// plain reports anchors, aliases and tags, which this file format leaves out:
// an alias could multiply a small file into a huge one.
func (p *yamlParser) plain(n ast.Node, key string) bool {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode, *ast.TagNode, *ast.MergeKeyNode:
		line, col := where(n)
		p.l.add(line, col, key, ErrSyntax, "anchors (&), aliases (*), tags (!) and merge keys (<<) are not supported: write the value itself")
		return false
	}
	return true
}

// mapping reads the keys of a mapping whose keys' names start with prefix.
func (p *yamlParser) mapping(n ast.Node, prefix string) {
	name := strings.TrimSuffix(prefix, ".")
	if !p.plain(n, name) {
		return
	}
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.NullNode:
		return // an empty section keeps its defaults
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		line, col := where(n)
		if prefix == "" {
			p.l.add(line, col, "", ErrType, "the file must be keys and values, e.g. \"interface: eth1\", not %s", describe(n))
		} else {
			p.l.add(line, col, name, ErrType, "must be a section of keys (indented below %s:), not %s", name, describe(n))
		}
		return
	}
	seen := map[string]bool{}
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		line, col := where(mv.Key)
		if !p.plain(mv.Key, name) {
			continue
		}
		k, ok := mv.Key.(*ast.StringNode)
		if !ok {
			p.l.add(line, col, name, ErrSyntax, "%s is not a key name: keys are words such as interface", describe(mv.Key))
			continue
		}
		full := prefix + k.Value
		if seen[k.Value] {
			p.l.add(line, col, full, ErrSyntax, "given twice: keep one")
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
			p.at[full] = pos{line, col}
		}
		switch {
		case sections[full]:
			p.mapping(v, full+".")
		case full == "capacity_fallback":
			p.capacities(v)
		case full == "cars":
			p.cars(v)
		case scalars[full] != nil:
			p.scalar(full, v, scalars[full](&p.c))
		default:
			p.l.add(line, col, full, ErrUnknownKey, "unknown key%s", suggest(prefix, k.Value))
		}
	}
}

// suggest names the keys a mistyped key could have meant.
func suggest(prefix, key string) string {
	var known []string
	for k := range scalars {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, ".") {
			known = append(known, rest)
		}
	}
	if prefix == "" {
		for k := range sections {
			known = append(known, k)
		}
		known = append(known, "capacity_fallback", "cars")
	}
	if prefix == "capacity_fallback." {
		known = []string{"evccid", "capacity_wh"}
	}
	if prefix == "cars." {
		known = carKeys
	}
	slices.Sort(known)
	for _, k := range known {
		if strings.HasPrefix(k, key) || strings.HasPrefix(key, k) || distance(k, key) <= 2 {
			return fmt.Sprintf(" (did you mean %s?)", prefix+k)
		}
	}
	return fmt.Sprintf(": the keys here are %s", strings.Join(known, ", "))
}

// distance is the edit distance of two short key names.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(b)]
}

// describe names a value's type for an error message.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case *ast.NullNode:
		return "nothing"
	case *ast.BoolNode:
		return fmt.Sprintf("%v", n.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + brief(n.GetToken().Value)
	case *ast.StringNode:
		return fmt.Sprintf("the text %q", brief(n.Value))
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a section of keys"
	}
	return "a " + n.Type().String()
}

// scalar sets the field dst from n.
func (p *yamlParser) scalar(key string, n ast.Node, dst any) {
	if !p.plain(n, key) {
		return
	}
	line, col := where(n)
	if n.Type() == ast.NullType {
		if l, _ := where(n); l == 0 {
			line, col = p.at[key].line, p.at[key].col
		}
	}
	switch dst := dst.(type) {
	case *string:
		switch n := n.(type) {
		case *ast.StringNode:
			*dst = n.Value
		case *ast.LiteralNode:
			*dst = strings.TrimSuffix(n.Value.Value, "\n")
		case *ast.IntegerNode, *ast.FloatNode:
			// the text as written: an all-digit EVSEID keeps its leading zeros
			*dst = n.GetToken().Value
		case *ast.NullNode:
			*dst = ""
		default:
			p.l.add(line, col, key, ErrType, "must be text, not %s (quote it: \"...\")", describe(n))
		}
	case *bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			p.l.add(line, col, key, ErrType, "must be true or false, not %s", describe(n))
			return
		}
		*dst = b.Value
	case *int:
		i, ok := n.(*ast.IntegerNode)
		v, inRange := int64(0), false
		if ok {
			switch x := i.Value.(type) {
			case int64:
				v, inRange = x, x >= math.MinInt32 && x <= math.MaxInt32
			case uint64:
				v, inRange = int64(x&math.MaxInt32), x <= math.MaxInt32
			}
		}
		switch {
		case !ok:
			p.l.add(line, col, key, ErrType, "must be a whole number, not %s", describe(n))
		case !inRange:
			p.l.add(line, col, key, ErrValue, "%s is far out of range", brief(i.GetToken().Value))
		default:
			*dst = int(v)
		}
	case *float64:
		switch x := n.(type) {
		case *ast.FloatNode:
			*dst = x.Value
		case *ast.IntegerNode:
			switch v := x.Value.(type) {
			case int64:
				*dst = float64(v)
			case uint64:
				*dst = float64(v)
			}
		default:
			p.l.add(line, col, key, ErrType, "must be a number such as 0.9, not %s", describe(n))
		}
	case *time.Duration:
		s, ok := n.(*ast.StringNode)
		if !ok {
			if n.Type() == ast.IntegerType || n.Type() == ast.FloatType {
				p.l.add(line, col, key, ErrType, "%s needs a unit: write e.g. 2s or 500ms", brief(n.GetToken().Value))
			} else {
				p.l.add(line, col, key, ErrType, "must be a duration such as 2s or 500ms, not %s", describe(n))
			}
			return
		}
		d, err := time.ParseDuration(s.Value)
		if err != nil {
			p.l.add(line, col, key, ErrValue, "%q is not a duration: write e.g. 2s or 500ms", brief(s.Value))
			return
		}
		*dst = d
	}
}

// capacities reads the capacity_fallback list.
func (p *yamlParser) capacities(n ast.Node) {
	const key = "capacity_fallback"
	if !p.plain(n, key) {
		return
	}
	switch s := n.(type) {
	case *ast.NullNode:
		p.c.CapacityFallback = nil
	case *ast.SequenceNode:
		p.c.CapacityFallback = nil
		for i, item := range s.Values {
			p.capacity(fmt.Sprintf("%s[%d]", key, i), item)
		}
	default:
		line, col := where(n)
		p.l.add(line, col, key, ErrType, "must be a list of entries such as \"- {evccid: \\\"*\\\", capacity_wh: 28000}\", not %s", describe(n))
	}
}

// capacity reads one capacity_fallback entry.
func (p *yamlParser) capacity(key string, n ast.Node) {
	line, col := where(n)
	var e Capacity
	seen := map[string]bool{}
	// Every item makes an entry, a refused one too, so that the list's
	// index stays the file's and a later check of what is missing points
	// at the item.
	defer func() {
		for _, k := range []string{"evccid", "capacity_wh"} {
			if !seen[k] {
				p.at[key+"."+k] = pos{line, col}
			}
		}
		p.c.CapacityFallback = append(p.c.CapacityFallback, e)
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
		p.l.add(line, col, key, ErrType, "must be an entry with evccid and capacity_wh, not %s", describe(n))
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
			p.l.add(kl, kc, key, ErrSyntax, "%s is not a key name: the keys here are evccid and capacity_wh", describe(mv.Key))
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
		case "evccid":
			p.scalar(full, v, &e.EVCCID)
		case "capacity_wh":
			p.scalar(full, v, &e.CapacityWh)
		default:
			p.l.add(kl, kc, full, ErrUnknownKey, "unknown key%s", suggest("capacity_fallback.", k.Value))
		}
	}
	for _, k := range []string{"evccid", "capacity_wh"} {
		if !seen[k] {
			p.l.add(line, col, key+"."+k, ErrValue, "missing: every entry needs evccid (hex, or \"*\" for any car) and capacity_wh")
		}
	}
	e.EVCCID = strings.ToLower(e.EVCCID)
}
