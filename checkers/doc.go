// Package checkers decides whether a history is valid under a consistency
// model: linearizable (Porcupine, per key), causal and causal+ (the bad
// patterns of Bouajjani et al., POPL 2017), eventual (convergence of final
// reads), and set (every acknowledged add is read). Checkers are pure
// functions of the history; they do no IO (VisualizeLinearizable writes to
// the io.Writer it is given, nothing else).
//
// Every checker returns valid, invalid or unknown. Invalid always comes with
// anomalies, each with the keys, the few operations that witness it (by the
// event index of their invoke) and an English explanation; unknown always
// says why; invalid outranks unknown, which outranks valid, within a checker
// and when results are combined (CheckAll).
//
// # Registers (linearizable, causal, causal+, eventual)
//
// Operations are read, write and cas on keys; values are compared in
// canonical JSON; a read of null means the key is absent, and every key is
// absent at first. A cas on an absent key fails as a mismatch. Operations
// take part as follows:
//
//   - ok read, ok write: as recorded.
//   - info write, or an invoke that never completed: may have taken effect
//     at any time after its invoke, or never. (Linearizable: return time at
//     infinity. Causal: a write that is in the history, last in its session
//     since the harness retires a process after an info; when a process goes
//     on after it anyway, the write gets a session of its own, so that the
//     process's later operations are not taken to follow it.)
//   - info read: dropped, it tells nothing.
//   - fail: dropped (it did not happen; reading its value is a ThinAirRead),
//     except a cas that failed with "mismatch".
//   - cas ok: linearizable, a step from expected to new; causal, a read of
//     expected followed in its session by a write of new.
//   - cas info: linearizable, applies if the state matches when porcupine
//     places it (placing it last is the same as never); causal, a write of
//     new only. Its read of expected is left out because, if the cas never
//     happened, it read nothing: leaving it out only drops causal edges, so
//     it can hide an anomaly but never invent one.
//   - cas mismatch: linearizable, an observation that the key did not hold
//     expected. Causal: left out. It says what the key did not hold, not
//     which write it read, so it yields no reads-from edge, and a bad
//     pattern needs one.
//
// A cas whose value is not a pair [expected, new] (unless it failed other
// than as a mismatch: then it did nothing) makes its key unknown, naming
// the event: the checkers do not guess what it did. Only that key: the
// others are still checked, and an anomaly on them makes the verdict
// invalid (invalid outranks unknown).
//
// An operation whose function is none of read, write and cas ("get",
// "Read", "add", "txn", ...) and that may have taken effect (ok, info, or
// never completed) may have changed its key, so the checkers leave that
// key out: the verdict is unknown, naming the function and how many such
// operations there were, unless an anomaly on the other keys makes it
// invalid. (Leaving a key out is a projection of the history: it can hide
// an anomaly, never invent one.) A failed one did nothing and is ignored;
// nemesis events are not client operations.
//
// # Causal consistency
//
// Sessions are processes; causal order CO is (session order ∪ reads-from)⁺.
// The history must be differentiated (each value written at most once per
// key, never null) so that every read has one write it read from; a key
// that is not is left out of the analysis and makes the verdict unknown,
// naming the key and value, unless an anomaly among the other keys'
// operations makes it invalid (leaving a key out only removes causal
// edges: it can hide an anomaly, never invent one). Eventual still judges
// that key's convergence. The bad
// patterns are ThinAirRead (a read of a value no ok or info write wrote),
// CyclicCO (CO has a cycle), WriteCOInitRead (a read of the initial state
// with a write of the key causally before it) and WriteCORead (a read of w1
// with w1 <CO w2 <CO read, w2 writing the same key); causal+ adds CyclicCF
// (CO plus the conflict order, w2 → w1 whenever w2 is causally before a
// read of w1, has a cycle).
//
// CO is computed with vector clocks over sessions, in the style of AWDIT
// (Møldrup and Pavlogiannis, 2025): strongly connected components find the
// cycles of session order ∪ reads-from (each reported as CyclicCO, its
// reads-from edges then ignored), sessions are clocked in an order where
// every read follows its write, and each read asks, per session that writes
// its key, for the last such write it causally knows (binary search); that
// one write decides WriteCORead, WriteCOInitRead and the read's conflict
// edges. Clocks have one column per session that writes, and entries whose
// reads teach them nothing share their predecessor's clock. Time is about
// O(n · w · log n) and memory O(n + r′ · w) for n operations, w writing
// sessions and r′ reads that learn something new; see README.md for figures.
//
// Each WriteCORead or WriteCOInitRead names the session guarantee it
// breaks, from the shape of the shortest causal path (fewest reads-from
// hops) from the overwriting write to the stale read: none (the same
// session) is read-your-writes; the stale reader itself read the write:
// monotonic-reads; it read a later write of the writer's session:
// monotonic-writes; it read a write of a session that had read the
// overwriting write: writes-follow-reads. Longer paths name none.
//
// # Eventual consistency
//
// No ThinAirRead, no CyclicCO, and convergence: the final reads ("final":
// true) of every key agree, on a value an ok or info write wrote, or on
// absent only when no write of the key succeeded. No final reads, a key
// written successfully without a final read, or a final read that did not
// answer (fail, info, never completed), is unknown. Session-guarantee
// violations go to Result.Info.
package checkers
