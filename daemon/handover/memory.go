package handover

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ccslink/ccslink/internal/statefile"
)

// File is the memory's file name in the state directory.
const File = "handovers.json"

const maxFileSize = 1 << 20

type memoryFile struct {
	Version int   `json:"version"`
	Cars    []Car `json:"cars"`
}

// CorruptError says that the memory's file could not be read as one: it
// was moved aside (Aside) and the memory starts afresh.
type CorruptError = statefile.CorruptError

// ErrFormat marks a memory file that is not what Save writes.
var ErrFormat = errors.New("not a file of remembered handovers")

// Memory is the cars' handovers remembered, kept in one small file written
// whole (a new file renamed over the old: a power cut leaves the old or the
// new). Not safe for concurrent use.
type Memory struct {
	path string
	cars []Car // the least recently noted first
}

// Open reads the memory at path ("" : in memory alone); a missing file is
// an empty memory. A damaged file is moved aside: the memory is then empty
// a fresh file is written and the error is a *CorruptError, which the daemon reports and goes on.
func Open(path string) (*Memory, error) {
	m := &Memory{path: path}
	if path == "" {
		return m, nil
	}
	cars, err := statefile.Load(path, maxFileSize, "the handovers remembered", "each car tries its strategies again from deliver-now", parse)
	m.cars = cars
	var ce *CorruptError
	if errors.As(err, &ce) {
		if serr := m.Save(); serr != nil {
			return m, serr
		}
	}
	return m, err
}

// parse reads a memory file's content.
func parse(data []byte) ([]Car, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, maxFileSize)
	}
	var f memoryFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, not 1", ErrFormat, f.Version)
	}
	if len(f.Cars) > MaxCars {
		return nil, fmt.Errorf("%w: %d cars, more than %d", ErrFormat, len(f.Cars), MaxCars)
	}
	ids := map[string]bool{}
	for i, c := range f.Cars {
		if c.ID == "" || len(c.ID) > maxIDLen || ids[c.ID] {
			return nil, fmt.Errorf("%w: car %d has an empty, long or repeated ID %q", ErrFormat, i, c.ID)
		}
		if c.WithoutSoC < 0 {
			return nil, fmt.Errorf("%w: car %q has %d plug-ins without a SoC", ErrFormat, c.ID, c.WithoutSoC)
		}
		ids[c.ID] = true
		if len(c.Tried) > len(Order)+1 {
			return nil, fmt.Errorf("%w: car %q tried %d strategies, more than %d", ErrFormat, c.ID, len(c.Tried), len(Order)+1)
		}
		seen := map[string]bool{}
		for _, t := range c.Tried {
			if !Known(t.Strategy) || seen[t.Strategy] {
				return nil, fmt.Errorf("%w: car %q has an unknown or repeated strategy %q", ErrFormat, c.ID, t.Strategy)
			}
			seen[t.Strategy] = true
			if len(t.Outcomes) > MaxOutcomes {
				return nil, fmt.Errorf("%w: car %q has %d outcomes of %s, more than %d", ErrFormat, c.ID, len(t.Outcomes), t.Strategy, MaxOutcomes)
			}
			for _, o := range t.Outcomes {
				if !knownOutcome(o) {
					return nil, fmt.Errorf("%w: car %q has an unknown outcome %q", ErrFormat, c.ID, o)
				}
			}
		}
	}
	return f.Cars, nil
}

// Cars returns a copy of the cars remembered, the least recently noted first.
func (m *Memory) Cars() []Car {
	out := make([]Car, len(m.cars))
	for i := range m.cars {
		out[i] = clone(m.cars[i])
	}
	return out
}

// Car returns what is remembered of the car id.
func (m *Memory) Car(id string) (Car, bool) {
	if i := m.find(id); i >= 0 {
		return clone(m.cars[i]), true
	}
	return Car{}, false
}

// Choose picks the strategy of the car id's next plug-in (Choose).
func (m *Memory) Choose(id, pin string, available []string) (strategy, why string) {
	var c *Car
	if i := m.find(id); i >= 0 {
		c = &m.cars[i]
	}
	return Choose(pin, c, available)
}

// Note remembers the outcome of strategy with the car id: it becomes the
// most recently noted car, and the least recently noted beyond MaxCars is
// forgotten. An empty or over-long ID or an unknown strategy or outcome
// is not remembered.
func (m *Memory) Note(id, strategy, outcome string, at time.Time) bool {
	if id == "" || len(id) > maxIDLen || !Known(strategy) || !knownOutcome(outcome) {
		return false
	}
	var c *Car
	i := m.find(id)
	if i >= 0 {
		c = &m.cars[i]
	}
	n := Note(c, id, strategy, outcome, at)
	if i >= 0 {
		m.cars = slices.Delete(m.cars, i, i+1)
	}
	m.cars = append(m.cars, n)
	if len(m.cars) > MaxCars {
		m.cars = m.cars[len(m.cars)-MaxCars:]
	}
	return true
}

// Forget forgets the car id; false if it was not remembered.
func (m *Memory) Forget(id string) bool {
	i := m.find(id)
	if i < 0 {
		return false
	}
	m.cars = slices.Delete(m.cars, i, i+1)
	return true
}

func (m *Memory) find(id string) int {
	return slices.IndexFunc(m.cars, func(c Car) bool { return c.ID == id })
}

func clone(c Car) Car {
	n := c
	n.Tried = make([]Tried, len(c.Tried))
	for i, t := range c.Tried {
		t.Outcomes = slices.Clone(t.Outcomes)
		n.Tried[i] = t
	}
	return n
}

// Save writes the memory to its file: a new file, synced, renamed over the old.
func (m *Memory) Save() error {
	if m.path == "" {
		return nil
	}
	cars := m.cars
	if cars == nil {
		cars = []Car{}
	}
	data, err := json.MarshalIndent(memoryFile{Version: 1, Cars: cars}, "", " ")
	if err != nil {
		return err
	}
	if err := statefile.Write(m.path, append(data, '\n')); err != nil {
		return fmt.Errorf("cannot save the handovers remembered: %w", err)
	}
	return nil
}
