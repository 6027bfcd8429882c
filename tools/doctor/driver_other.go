//go:build !linux

package doctor

import "errors"

func driver(string) (string, bool, error) {
	return "", false, errors.New("drivers are known on Linux only")
}
