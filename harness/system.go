package harness

import (
	"context"
	"time"

	"github.com/faultline/faultline/generator"
)

// System is a contract other modules implement (harness/refstore, a
// user's own system, etcd): change it only by adding optional interfaces.

// System is a system under test: what to run for each node and how to talk
// to it. The reference store is the first implementation; a third-party
// system (etcd, ...) is one more package implementing it, with no change to
// the runner or the backends.
type System interface {
	// Name names the system ("faultline-store", "etcd").
	Name() string
	// Binary is the path of the statically linked binary that runs a node,
	// started directly by the local backend and packed into a FROM-scratch
	// image by the docker backend.
	Binary() string
	// Args is the command line (after the binary) that starts one node.
	Args(node NodeLayout) []string
	// Ready returns nil once the node at n answers requests.
	Ready(ctx context.Context, n Node) error
	// NewClient returns a client adapter for one harness process, talking
	// first to nodes[first].
	NewClient(nodes []Node, first int) (Client, error)
}

// NodeLayout is where one node listens, where it finds its peers and where
// its data lives, in the node's own terms (inside its container for the
// docker backend).
type NodeLayout struct {
	ID           string
	ClientListen string // address the client/admin API binds
	PeerListen   string // address the node-to-node API binds
	// PeerAdvertise is the address the other nodes dial to reach this
	// node's peer API; empty means PeerListen. It differs from PeerListen
	// on the local backend when the system asks for SharedPeerAddresses.
	PeerAdvertise string
	// Peers maps every other node's id to the address this node dials for
	// it (the local backend routes each link through its own proxy, so
	// partitions can cut it; see SharedPeerAddresses).
	Peers   map[string]string
	DataDir string
}

// Node is a running node as the harness reaches it.
type Node struct {
	ID         string
	ClientAddr string // host:port reachable from the harness
}

// Client performs one operation and classifies its outcome. It is used by
// one harness process at a time.
type Client interface {
	// Invoke performs op and returns its completion: OK with the value
	// read (reads) or nil, Fail when it definitely did not take effect
	// (error "mismatch" for a cas that found another value), Info when
	// the outcome is unknown (the runner also turns a timeout into Info).
	Invoke(ctx context.Context, op Op) Completion
	// Use switches the client to nodes[i] (sessions that move between
	// nodes carry their causal context along).
	Use(i int)
	Close() error
}

// Op is an operation for a Client to perform: the generators' own type,
// so what a workload emits is what a client gets (see generator.Op).
type Op = generator.Op

// Completion is how an operation ended (see generator.Completion): OK,
// Fail or Info, with the value read and the error.
type Completion = generator.Completion

// ClockSkewer is implemented by systems whose nodes take a clock offset
// through an API (the reference store's admin clock), so the clock nemesis
// can skew a node that shares the host's real clock.
type ClockSkewer interface {
	SetClockOffset(ctx context.Context, n Node, offset time.Duration) error
}

// Promiser is implemented by systems that know what their configuration
// promises, so a test need not say what to check: Run checks Test.Model
// when it is set, else the promised model. Without it, Test.Model must be
// set and cas is never generated.
type Promiser interface {
	Promise() Promise
}

// Promise is what a system under test promises in its configuration.
type Promise struct {
	// Model is the consistency model it keeps: linearizable, causal,
	// causal+ or eventual.
	Model string
	// CAS says it implements cas (compare-and-set with the model's
	// meaning), so the register and kv workloads may generate it.
	CAS bool
}

// Preparer is implemented by systems that need something made before the
// workload starts (NATS: the stream the clients publish to). Run calls
// Prepare once, after every node is ready and before any client op; an
// error fails the run (exit 3) before anything is recorded, so it must
// say what could not be made and why. Prepare must be idempotent: it may
// find what it makes already there.
type Preparer interface {
	Prepare(ctx context.Context, nodes []Node) error
}

// NodeFiler is implemented by systems whose nodes need files their
// command line cannot carry (NATS takes some JetStream settings only from
// a configuration file). The backend writes them, fsynced, into the
// node's data directory before the node first starts; the keys are paths
// relative to NodeLayout.DataDir.
type NodeFiler interface {
	NodeFiles(n NodeLayout) map[string][]byte
}

// LeaderFinder is implemented by systems with a leader (strong mode), for
// nemeses such as isolate-leader.
type LeaderFinder interface {
	Leader(ctx context.Context, nodes []Node) (id string, err error)
}

// SharedPeerAddresses is implemented by systems whose nodes must all name
// a peer by the same address: etcd hashes the peer URLs in
// --initial-cluster into its member and cluster ids, so per-link addresses
// (each node seeing a peer somewhere else) keep the cluster from forming.
// When SharedPeerAddresses returns true, the local backend gives each node
// one inbound proxy address, the same in every node's NodeLayout.Peers
// (and in the node's own PeerAdvertise), and tells the links apart by
// which node's process opened each connection; partitions and packet
// faults still act per directed link. Backends where every node already
// has one address (docker) ignore it.
type SharedPeerAddresses interface {
	SharedPeerAddresses() bool
}
