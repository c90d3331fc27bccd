package eventual

import (
	"testing"

	"github.com/faultline/faultline/store"
	"github.com/faultline/faultline/store/internal/enginetest"
)

// cluster is eventual engines on loopback TCP, each link through a proxy
// that a test can cut, each node with its own clock that a test can skew.
type cluster = enginetest.Cluster[*Engine]

func newCluster(t testing.TB, ids []string, faults store.Faults) *cluster {
	return enginetest.NewCluster(t, Open, ids, faults)
}

var ctxT = enginetest.Context
