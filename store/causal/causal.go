// Package causal is the store's causal+ mode (placeholder: the causal
// implementation replaces this file).
package causal

import (
	"errors"

	"github.com/faultline/faultline/store"
)

// New starts the causal engine of a node.
func New(env store.Env) (store.Engine, error) {
	return nil, errors.New("causal mode: not implemented yet")
}
