package nemesis

import (
	"context"
	"time"

	"github.com/faultline/faultline/history"
)

// CONTRACT (written before the implementation; the harness runner is built
// against it in parallel). The implementation is in nemesis.go.

// Grudge says, for each node, the nodes whose packets it drops. An empty
// grudge heals every partition. Cuts may be one-way.
type Grudge map[string][]string

// PacketFault shapes a node's traffic (netem in docker; delay through the
// link proxies in the local backend). The zero value clears it.
type PacketFault struct {
	Delay     time.Duration `json:"delay,omitempty"`
	Jitter    time.Duration `json:"jitter,omitempty"`
	Loss      float64       `json:"loss,omitempty"`      // percent
	Duplicate float64       `json:"duplicate,omitempty"` // percent
	Reorder   float64       `json:"reorder,omitempty"`   // percent
}

// Target is what nemeses act on: a running cluster plus the system's
// extras. The harness adapts its Cluster and System into a Target. Every
// fault must take real effect or return an error saying why it could not.
type Target interface {
	NodeIDs() []string
	Kill(ctx context.Context, id string) error
	Restart(ctx context.Context, id string) error
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Partition(ctx context.Context, g Grudge) error
	Packet(ctx context.Context, id string, f PacketFault) error
	// SetClockOffset skews a node's clock (0 resets it).
	SetClockOffset(ctx context.Context, id string, offset time.Duration) error
	// Leader returns the current leader's id, or an error when the system
	// has none (then leader-based faults fall back or fail loudly).
	Leader(ctx context.Context) (string, error)
	// LoseUnsynced drops what the filesystem of node id (killed: the
	// power fault kills it first) holds that was not fsynced, as a power
	// loss would; the node restarts on what is left. It fails when the
	// cluster was not started on such a filesystem (ClusterSpec.LazyFS).
	LoseUnsynced(ctx context.Context, id string) error
}

// Recorder records nemesis events (process -1, type info, f
// start-<fault>/stop-<fault>, value: what it did) in the run's history.
type Recorder interface {
	Record(e history.Event) (history.Event, error)
}

// Faults lists the fault names --nemesis accepts (besides all and none).
var Faults = []string{"partition", "kill", "pause", "clock", "packet", "power"}

// NeedsLazyFS lists the faults that need every node's data directory on
// the lazy filesystem (lazyfs): "all" leaves them out, since the mount
// needs FUSE and costs write throughput; name them to use them.
var NeedsLazyFS = []string{"power"}

// DefaultInterval is the mean gap between fault changes when
// Config.Interval is 0.
const DefaultInterval = 10 * time.Second

// Config configures a Nemesis.
type Config struct {
	Faults   []string      // from ParseSpec
	Interval time.Duration // mean gap between fault changes (0: DefaultInterval)
	// Seed seeds the schedule; 0: the run's seed (ForSeed).
	Seed int64
	// Partitions lists the partition topologies to draw from (from
	// ParseTopologies; empty = all of Topologies).
	Partitions []string
	// Packets lists the packet fault modes to draw from (from
	// ParsePacketModes). Empty: all of PacketModes, which harness.Run
	// narrows to those its backend can apply (delay and loss on the local
	// backend, loss alone on a kernel without netem); modes named that
	// the backend cannot apply are refused before the run starts.
	Packets []string
}
