// Package nats is NATS JetStream as a system under test: a cluster of
// nats-server nodes (built static from the Go module proxy at a pinned
// version by systems/gobuild and cached, or a prebuilt binary), each with
// JetStream in its data directory and a route to every peer, and a stream
// (Stream, one subject, file storage, replicas = the cluster size) that
// the harness creates before the workload starts (harness.Preparer).
//
// # Configuration
//
// Node settings are flags (--name, --addr/--port from the client address,
// --cluster from the peer address, --routes to every peer, --jetstream,
// --store_dir <data>/jetstream). JetStream's sync_interval has no flag, so
// when Config.SyncInterval is set each node also gets <data>/nats.conf
// (harness.NodeFiler) holding only that setting. Left empty, the server's
// default holds: writes are acknowledged once a quorum of replicas has
// them in memory and written, and fsynced every two minutes; "always"
// fsyncs each write before the acknowledgement. Jepsen's analysis of NATS
// 2.12.1 (2025) showed the default loses acknowledged publishes when every
// node loses power at once; the power nemesis reproduces that.
//
// # Workload
//
// The set workload: an add publishes its element (the JSON integer) to
// Subject; a read is the whole stream, every message's data in stream
// order, read through an ephemeral pull consumer up to the last sequence the
// stream's leader reported when the read began. Final reads go to every
// node, but in JetStream a consumer's messages come from the replica that
// hosts it, not from the node the client is connected to; the read says
// what the cluster serves through that node. Other workloads (register,
// kv) are not supported: their ops fail with an error saying so.
//
// # Clients and outcomes
//
// One connection per harness process, to its node alone: the servers a
// node advertises are ignored (nats.IgnoreDiscoveredServers), reconnects
// go to the same node only, and the reconnect buffer is off, so a publish
// is never queued while disconnected and sent later behind the op's back.
//
//	add, acknowledged by the stream                 ok
//	add, no responders (nothing subscribed: the      fail
//	     server dropped it, no stream has it)
//	add, not connected when the op began, or an      fail  "not sent: ..."
//	     error nats.go returns before writing
//	add, no ack (timeout, connection lost after      info  (may be stored)
//	     sending, an error from the stream)
//	read, every message up to the last sequence     ok    [elements]
//	final read, "stream not found" on every attempt  ok    [] (the cluster holds
//	     for 2 s (after heal, Ready, quiet period)         no such stream)
//	read, any other error (retried inside the op     fail  (a read changes nothing)
//	     while a second is left)
//
// A stream error in a publish ack is info, not fail: the leader may have
// proposed the message to its replicas before answering with the error.
//
// # Conformance (harness/systemtest)
//
// The conformance suite drives register ops (write, read, cas of a key),
// which this package does not map onto JetStream: only the set workload
// runs here. What the suite checks that applies to a set is tested in this
// package instead: readiness, the outcome mapping (unit_test.go), kill and
// restart of every node on its data losing nothing (TestSetUnderKill), and
// nothing left behind after Close (the runs' clusters, checked by hand:
// no process, container, network, volume or mount remains). A register
// mapping through JetStream's key-value store would make the suite apply;
// its direct gets are served by any replica and can be stale, so its reads
// would need the leader (non-direct) to be checked as linearizable.
package nats
