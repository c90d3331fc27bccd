// Package etcd plugs a real etcd cluster into the harness as a
// harness.System: the etcd binary (built statically from the Go module
// proxy at a pinned version and cached by version, or a prebuilt one), the
// node command line from the node layout, readiness, a client adapter on
// etcd's own Go client (go.etcd.io/etcd/client/v3) and leader lookup
// (harness.LeaderFinder) through the maintenance Status API. It does not
// implement harness.ClockSkewer: etcd has no API to skew a node's clock,
// so the clock nemesis is refused with the harness's error rather than
// pretended.
//
// # Nodes
//
// A node runs `etcd --name <id> --data-dir <dir>` listening for clients on
// the layout's client address and for peers on its peer address, with
// --initial-cluster built from the layout (its own peer address and the
// address it dials for each other node) and --initial-cluster-state new; a
// restarted node finds its member in its data dir and ignores the initial
// flags. --heartbeat-interval and --election-timeout are passed only when
// set (Config), so etcd's defaults (100 ms, 1000 ms) apply otherwise.
//
// etcd hashes every member's peer URLs into the member and cluster IDs and
// dials a member at the URLs in the replicated membership, so all nodes
// must name each member by the same peer address. The docker backend's
// layout does (one address per node); on the local backend System asks for
// it through harness.SharedPeerAddresses and advertises
// NodeLayout.PeerAdvertise. See the package README.
//
// # Operations
//
// Each harness process gets its own client with a single endpoint (its
// current node; Use reconnects to another), no endpoint sync and no
// balancing, so the history's node is the node that served the op.
//
//   - read  = Get(key): linearizable (etcd's default) or serializable
//     (Config.Serializable: the node answers from its own state, possibly
//     stale). An absent key reads null.
//   - write = Put(key, value), with the require-leader flag so that a node
//     that knows no leader refuses it before proposing.
//   - cas   = Txn(If(Value(key) = expected), Then(Put(key, new))): a false
//     comparison is fail with error "mismatch". etcd's value comparison is
//     false for an absent key, so a cas on an absent key is a mismatch, as
//     the history contract says.
//   - add (set workload) = Put("<set>/<element>", ""); a set read is a
//     prefix Get of "<set>/" whose keys name the elements (sorted). Each
//     element has its own key, so adds commute and need no cas; a read is
//     one Range, as linearizable (or serializable) as a single-key Get.
//
// Values are stored as their canonical JSON text (integers as decimal
// strings) and read back as JSON.
//
// # Outcomes
//
// fail means the request provably took no effect; anything that may have
// taken effect is info. Reads take no effect, so a read that errs is
// always fail. For writes, cas and adds:
//
//	ok      no error (a cas whose comparison held)
//	fail    cas comparison false                       error "mismatch"
//	fail    Unavailable "etcdserver: no leader"        refused before proposing (require-leader)
//	fail    Unavailable while dialing (connection      the request was never sent
//	        refused, no route, dial timeout)
//	fail    ResourceExhausted "too many requests",     refused before proposing
//	        InvalidArgument (request too large, empty
//	        key), PermissionDenied, Unauthenticated
//	fail    "mvcc: database space exceeded" (NOSPACE)  refused at apply
//	info    DeadlineExceeded / Canceled (client side,  the proposal may commit later
//	        or "etcdserver: request timed out")
//	info    Unavailable "etcdserver: leader changed"   proposed; may have been applied
//	info    Unavailable after sending (reset, EOF,     may have been applied
//	        "transport is closing"), "server stopped"
//	info    any other error                            unknown, so not fail
//
// The client's own retry interceptor retries a mutation only when the
// previous attempt was provably not sent, so its final error speaks for
// every attempt.
package etcd
