// Package eventual is the reference store's eventual mode: every node
// serves reads and writes locally; concurrent writes are resolved by
// last-writer-wins on hybrid logical clock (HLC) timestamps; replicas
// converge through asynchronous replication plus anti-entropy.
//
// # Design
//
// A local write is stamped with the node's HLC: the physical part is the
// node's skewable wall clock (store.Env.Clock), then a logical counter,
// then the node id as tie-break. The HLC never goes backwards and moves
// past every timestamp the node has received, so a write made after
// seeing another one always wins over it. The write is fsynced
// (store/durable, group commit) before it is acknowledged and made
// visible, then pushed to every peer in batches (POST
// /peer/eventual/replicate). A push that fails is dropped: every 500 ms
// each node pulls from each peer by anti-entropy (POST
// /peer/eventual/digest: the node sends a digest of its state in 256 hash
// buckets; the peer answers with its entries in the buckets that differ;
// the node keeps whatever is newer). So replicas converge once a
// partition heals, whatever was lost on the way.
//
// # Promises kept
//
//   - Convergence: once writes stop and the network heals, every replica
//     holds, for every key, the write with the greatest (HLC, node).
//   - Durability: an acknowledged write survives kill -9 on the node that
//     took it (fsync before ack) — unless a write with a greater timestamp
//     supersedes it, which is the model.
//   - A retried write or cas with the same request id applies at most once
//     (the last 100,000 request ids per node are remembered, on disk too).
//   - Availability: every node serves reads and writes while partitioned.
//
// # Promises not kept
//
//   - No session guarantees: causal tokens are ignored (none is returned);
//     a client that moves between nodes may not read its own writes, may
//     read older values after newer ones, etc.
//   - Not linearizable, not causal.
//   - Lost updates under clock skew: a node whose wall clock is behind
//     stamps its writes with older timestamps, so an acknowledged write it
//     takes loses to an earlier write (in real time) from a node with a
//     correct clock, everywhere. That is last-writer-wins on wall clocks,
//     expected behaviour of this model and not a bug.
//   - cas compares with the local node's current value only; two nodes may
//     both accept a cas from the same value, and one is lost.
//   - Request ids are remembered per node: a retry sent to another node
//     than the first attempt may apply twice.
//
// # Status
//
// The status vector maps each origin node to the highest sequence number
// of its writes this node has seen. It shows how far replication got; it
// is not a convergence test (anti-entropy carries only winning writes, so
// converged replicas may show different vectors): compare values.
//
// # Peer API
//
//   - POST /peer/eventual/replicate (binary, codec.go: from, records): push.
//   - POST /peer/eventual/digest {from, buckets}: anti-entropy; the answer
//     {records} carries at most 2,000 records of the differing buckets,
//     starting from a random bucket, so that under heavy writes (when
//     digests always differ) it costs a bounded share of the work.
//   - GET /peer/eventual/status: Stats (vector, HLC, keys, repairs, disk).
//
// # Deliberate faults
//
//   - ack-before-fsync: see store/durable.
package eventual
