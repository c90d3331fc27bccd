// Package eventual is the store's eventual mode (placeholder: the causal
// implementation replaces this file).
package eventual

import (
	"errors"

	"github.com/faultline/faultline/store"
)

// New starts the eventual engine of a node.
func New(env store.Env) (store.Engine, error) {
	return nil, errors.New("eventual mode: not implemented yet")
}
