package harness

import (
	"context"

	"github.com/faultline/faultline/nemesis"
)

// Backend and Cluster are contracts other packages implement (harness/local,
// harness/docker): change them only by adding optional interfaces.

// Backend starts clusters: "local" (child processes on loopback) or
// "docker" (one container per node on a private network).
type Backend interface {
	Name() string
	// Start starts spec.Nodes nodes of sys and returns once every one
	// answers sys.Ready (a node that exits or never answers fails it, with
	// the end of its log).
	Start(ctx context.Context, sys System, spec ClusterSpec) (Cluster, error)
}

// PacketModer is a Backend that knows which packet faults
// (nemesis.PacketModes) it can apply here, so that Run fits the bundled
// nemesis to it before anything starts (see Run).
type PacketModer interface {
	// PacketModes lists them in nemesis.PacketModes order; nil means it
	// cannot tell (all are drawn, and one it cannot apply ends the run).
	PacketModes() []string
}

// ClusterSpec says what cluster to start.
type ClusterSpec struct {
	RunID string // labels everything the backend creates
	Nodes int    // node ids are n1..nN
	// Dir is the run directory: node logs go to Dir/nodes/<id>.log, and
	// the local backend keeps data dirs under Dir/data/<id>.
	Dir string
	// LazyFS puts every node's data directory on a lazy filesystem
	// (package lazyfs), so that a power loss can drop what the node did
	// not fsync: the cluster then implements UnsyncedLoser. Set when the
	// nemesis has a fault of nemesis.NeedsLazyFS.
	LazyFS bool
	// LazyFSKeepNames makes the lazy filesystem keep every change of
	// names at once and lose only un-fsynced file contents
	// (lazyfs.Options.KeepNames).
	LazyFSKeepNames bool
}

// UnsyncedLoser is implemented by clusters started with
// ClusterSpec.LazyFS: LoseUnsynced drops what node id's filesystem holds
// that the node did not fsync. The node must be down (killed).
type UnsyncedLoser interface {
	LoseUnsynced(ctx context.Context, id string) error
}

// Cluster is a running cluster. Every method is safe to call from the
// nemesis while clients run. Faults must take real effect or return an
// error saying why they could not: never pretend.
type Cluster interface {
	Nodes() []Node
	// Kill sends SIGKILL to the node; its data survives.
	Kill(ctx context.Context, id string) error
	// Restart starts a killed (or running: kill first) node on its data.
	Restart(ctx context.Context, id string) error
	// Pause freezes the node's processes; Resume thaws them.
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Partition replaces the current partition with g (nil heals).
	Partition(ctx context.Context, g nemesis.Grudge) error
	// Packet sets (or, with the zero value, clears) a node's packet fault.
	Packet(ctx context.Context, id string, f nemesis.PacketFault) error
	// Close stops every node, copies node logs into the run directory and
	// removes everything the backend created. It must work with a
	// cancelled parent context (callers pass a fresh one on interrupt).
	Close(ctx context.Context) error
}
