// Package causal is the reference store's causal+ mode, in the manner of
// COPS: every node serves reads and writes locally, replicates its own
// writes asynchronously, and makes a remote write visible only after the
// writes it depends on.
//
// # Design
//
// A local write gets the node's next sequence number, a Lamport timestamp
// and, as dependencies, the node's applied vector at the time (which
// covers everything the writing client has seen, see tokens below). It is
// fsynced (store/durable, group commit) together with the node's sequence
// number, its entry in the outgoing log and its request id, and only then
// made visible and acknowledged.
//
// One replicator per peer sends the node's own writes, in sequence order
// and in batches, to POST /peer/causal/replicate. The peer buffers a
// write until its applied vector covers the write's dependencies (and the
// origin's earlier writes), fsyncs it, applies it, and answers with its
// applied vector and the writes it holds (applied or buffered); the
// sender resumes after what the peer holds, so a partition or a restart
// of either side only delays replication: the sender retries with backoff
// and resends whatever the peer lacks, and never resends what a peer
// buffers for dependencies that must come from elsewhere. The
// outgoing log is kept (in memory and in bbolt) until every peer has
// acknowledged it, so a restarted node keeps replicating.
//
// Concurrent writes to one key are ordered by (Lamport timestamp, origin
// node id); every replica keeps the greatest, so replicas converge
// (causal+). A causally later write always has a greater Lamport
// timestamp, so it always wins.
//
// # Tokens
//
// A client sends a causal token (store.Token, a version vector) with each
// request and gets one back. A node serves a request only once its
// applied vector covers the token: it waits up to 1.5 s (or the request's
// context), then refuses with store.ErrNotApplied, which is safe to
// retry. The token returned is the node's applied vector after the
// operation, which covers the write just made or the write just read and
// all its dependencies. So, even when a client moves between nodes,
// read-your-writes, monotonic reads, monotonic writes and
// writes-follow-reads hold.
//
// # Promises kept
//
//   - Causal consistency for clients that carry their token, across nodes.
//   - Convergence: replicas that have applied the same writes hold the same
//     values, and every write reaches every node once the network heals.
//   - Durability: an acknowledged write survives kill -9 (fsync before ack).
//   - A retried write or cas with the same request id applies at most once
//     (the last 100,000 request ids per node are remembered, on disk too).
//   - Availability: a node serves its clients while partitioned from every
//     peer (a client carrying a token from another node may be refused).
//
// # Promises not kept
//
//   - Not linearizable: a read may miss a write acknowledged elsewhere.
//   - cas is a compare-and-set on the local node's current value only: two
//     nodes may both accept a cas from the same expected value; the one
//     with the greater (Lamport, node) wins everywhere and the other is
//     lost. cas is therefore not linearizable across nodes.
//   - Concurrent writes to one key: all but one are silently superseded.
//   - Request ids are remembered per node: a retry sent to another node
//     than the first attempt may apply twice.
//   - The returned token is the node's whole applied vector, not just the
//     client's causal past, so a client that moves may wait for writes it
//     never saw (never for less than it needs).
//   - A peer that is gone for good keeps the outgoing log growing (it is
//     only trimmed up to what every peer has).
//
// # Deliberate faults
//
//   - skip-deps: remote writes are applied as soon as they arrive, without
//     waiting for their dependencies or the origin's earlier writes; the
//     sender splits each batch into parallel requests with random delays
//     so that writes really arrive out of order. The causal checker must
//     catch it.
//   - ack-before-fsync: see store/durable. A write is acknowledged before
//     it is on disk but replicated only once it is, so a kill -9 within
//     the window loses it everywhere; the restarted node reuses its
//     sequence numbers, and a client whose token names the lost writes is
//     served by that node (a node does not wait for its own entry of a
//     token) and sees the loss. Peers also acknowledge replicated writes
//     before they are on disk, so under this fault the outgoing log is
//     never trimmed (a peer may need it again after a kill).
//
// # Peer API
//
//   - POST /peer/causal/replicate (binary, codec.go: from, writes): the receiver buffers,
//     fsyncs and applies them, and answers {applied}: its contiguous
//     applied vector.
//   - GET /peer/causal/vector: {applied}, where a sender resumes from.
//   - GET /peer/causal/status: Stats (vector, pending, Lamport clock,
//     unacknowledged log, peers' progress, disk counters).
package causal
