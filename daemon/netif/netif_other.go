//go:build !linux

package netif

// Watcher follows one interface; only on Linux.
type Watcher struct{}

// Watch fails with ErrUnsupported: only Linux tells of interfaces coming and going.
func Watch(name string) (*Watcher, error) { return nil, ErrUnsupported }

// Close does nothing.
func (w *Watcher) Close() error { return nil }

func (w *Watcher) look() (Link, *NotReadyError, <-chan struct{}) {
	return Link{}, &NotReadyError{Reason: Missing}, nil
}

func (w *Watcher) gone(Link) (bool, <-chan struct{}) { return true, nil }

func (w *Watcher) refresh() {}
