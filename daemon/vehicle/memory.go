package vehicle

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ccslink/ccslink/internal/statefile"
)

// MemoryFile is the memory's file name in the state directory.
const MemoryFile = "vehicles.json"

// Bounds of the memory: the cars remembered (the least recently seen go
// first), the MACs kept per car, and the file read.
const (
	MaxRemembered = 100
	MaxMACs       = 8
	maxFileSize   = 1 << 20
)

// Remembered is a car seen before.
type Remembered struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Random      bool        `json:"random"` // its MAC changes from plug-in to plug-in
	Fingerprint Fingerprint `json:"fingerprint"`
	MACs        []string    `json:"macs"` // the newest last
	FirstSeen   time.Time   `json:"first_seen"`
	LastSeen    time.Time   `json:"last_seen"`
	PlugIns     int         `json:"plug_ins"`
}

type memoryFile struct {
	Version int          `json:"version"`
	Cars    []Remembered `json:"cars"`
}

// CorruptError says that the memory's file could not be read as one: it
// was moved aside (Aside) and the memory starts afresh.
type CorruptError = statefile.CorruptError

// ErrFormat marks a memory file that is not what Save writes.
var ErrFormat = errors.New("not a file of remembered cars")

// Memory is the cars remembered, kept in one small file written whole
// (a new file renamed over the old: a power cut leaves the old or the new).
// Not safe for concurrent use: the charger's one goroutine recognises cars.
type Memory struct {
	path string
	cars []Remembered
}

// OpenMemory reads the memory at path; a missing file is an empty memory.
// A damaged file is moved aside: the memory is then empty and the error a
// *CorruptError, which the daemon reports and goes on.
func OpenMemory(path string) (*Memory, error) {
	m := &Memory{path: path}
	cars, err := statefile.Load(path, maxFileSize, "the remembered cars", "the cars will be learnt again", parseMemory)
	m.cars = cars
	return m, err
}

// parseMemory reads a memory file's content.
func parseMemory(data []byte) ([]Remembered, error) {
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
	if len(f.Cars) > MaxRemembered {
		return nil, fmt.Errorf("%w: %d cars, more than %d", ErrFormat, len(f.Cars), MaxRemembered)
	}
	ids := map[string]bool{}
	for i, c := range f.Cars {
		if c.ID == "" || len(c.ID) > 31 || ids[c.ID] {
			return nil, fmt.Errorf("%w: car %d has an empty, long or repeated ID %q", ErrFormat, i, c.ID)
		}
		ids[c.ID] = true
		if len(c.MACs) > MaxMACs {
			return nil, fmt.Errorf("%w: car %q has %d MACs, more than %d", ErrFormat, c.ID, len(c.MACs), MaxMACs)
		}
	}
	return f.Cars, nil
}

// Cars returns a copy of the cars remembered, the least recently seen first.
func (m *Memory) Cars() []Remembered {
	out := make([]Remembered, len(m.cars))
	for i, c := range m.cars {
		c.MACs = slices.Clone(c.MACs)
		out[i] = c
	}
	return out
}

// find returns the index of the car with this ID, or -1.
func (m *Memory) find(id string) int {
	return slices.IndexFunc(m.cars, func(c Remembered) bool { return c.ID == id })
}

// byMAC returns the index of the car last seen with mac, or -1.
func (m *Memory) byMAC(mac string) int {
	return slices.IndexFunc(m.cars, func(c Remembered) bool { return slices.Contains(c.MACs, mac) })
}

// seen notes a plug-in of the car c (new or remembered) with mac: it
// becomes the most recently seen, and the least recently seen beyond
// MaxRemembered is forgotten.
func (m *Memory) seen(c Remembered, mac string, f Fingerprint, at time.Time) {
	if i := m.find(c.ID); i >= 0 {
		m.cars = slices.Delete(m.cars, i, i+1)
	}
	if c.FirstSeen.IsZero() {
		c.FirstSeen = at
	}
	c.LastSeen, c.Fingerprint = at, f
	c.PlugIns++
	if mac != "" {
		c.MACs = slices.DeleteFunc(slices.Clone(c.MACs), func(s string) bool { return s == mac })
		c.MACs = append(c.MACs, mac)
		if len(c.MACs) > MaxMACs {
			c.MACs = c.MACs[len(c.MACs)-MaxMACs:]
		}
	}
	m.cars = append(m.cars, c)
	if len(m.cars) > MaxRemembered {
		m.cars = m.cars[len(m.cars)-MaxRemembered:]
	}
}

// Save writes the memory to its file: a new file, synced, renamed over the old.
func (m *Memory) Save() error {
	if m.path == "" {
		return nil
	}
	data, err := m.snapshot()
	if err != nil {
		return err
	}
	return writeFile(m.path, data)
}

// snapshot is the file's content as the memory is now.
func (m *Memory) snapshot() ([]byte, error) {
	data, err := json.MarshalIndent(memoryFile{Version: 1, Cars: m.cars}, "", " ")
	return append(data, '\n'), err
}

// writeFile replaces the file at path with data (statefile.Write).
func writeFile(path string, data []byte) error {
	if err := statefile.Write(path, data); err != nil {
		return fmt.Errorf("cannot save the remembered cars: %w", err)
	}
	return nil
}
