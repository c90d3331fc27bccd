package causal

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/enginetest"
)

// node is one engine of a test cluster; cluster is causal engines on
// loopback TCP, each link through a proxy that a test can cut.
type (
	node    = enginetest.Node[*Engine]
	cluster = enginetest.Cluster[*Engine]
)

func newCluster(t testing.TB, ids []string, faults store.Faults) *cluster {
	return enginetest.NewCluster(t, Open, ids, faults)
}

var ctxT = enginetest.Context

func isNotApplied(err error) bool { return errors.Is(err, store.ErrNotApplied) }
