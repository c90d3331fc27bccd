// Package durable is the reference store's durable storage for the causal
// and eventual modes: a bbolt data file behind a group-committing journal.
//
// An engine hands the DB a list of puts and deletes plus an apply
// callback (Submit). One committer goroutine takes every submission that
// is waiting, appends them all as one entry to the journal (an
// append-only segment file of hashicorp/raft-wal: one write and one fsync
// per group), then runs the submissions' apply callbacks in submission
// order and releases their waiters. So
//
//   - an acknowledged write is on disk (fsynced) before it is acknowledged;
//   - concurrency buys throughput: N concurrent writers share one commit
//     (Stats().Commits counts the fsynced journal appends);
//   - state becomes visible (apply) in exactly the order it was submitted,
//     and never before it is durable, so a reader never sees a value that
//     a crash could take back.
//
// A checkpoint (every Options.CheckpointEvery, 1 s by default, or sooner
// when many ops wait) writes the journaled ops into the bbolt file in one
// synced transaction, with the journal index it reached, and then drops
// the journal segments it covers. Open replays the journal entries after
// the file's checkpoint, so after a kill -9 the file is whole again
// before the engine reads it. Why not commit every group to bbolt: a
// bbolt commit costs two fsyncs (its pages, then its meta page) and
// rewrites every B+tree page on the path of every key it touches, about
// ten 4 KiB pages for a group of small writes; the journal writes the
// group's bytes once, with one fsync. Get and ForEach read both: the
// newest journaled op of a key wins over the file.
//
// The deliberate fault ack-before-fsync (Options.AckBeforeFsync) breaks
// the first promise on purpose: submissions are applied and released at
// once, while their data waits in process memory and is written out only
// every Options.LateFlush (500 ms by default). A kill -9 within that
// window loses acknowledged writes, which is what the harness must catch.
// (Writing without fsync would not be enough: the page cache survives a
// process kill.)
//
// The deliberate fault lazy-fsync (Options.LazyFsync) is what many real
// systems do by default: each group is written to the journal at once,
// but the journal is fsynced only every Options.FsyncEvery (2 s by
// default, by the checkpoint, which fsyncs the journal before the data
// file), and submissions are released as soon as they are written. A
// kill -9 loses nothing (the page cache survives it, and onDurable runs
// at the write, so replication goes on as usual); a power loss loses the
// acknowledged writes of the last FsyncEvery, which only a filesystem
// that drops un-fsynced data (faultline's lazyfs) can show.
//
// SubmitThen adds a second callback, onDurable, run (in order) when the
// data is really on disk: with the fault off that is right after apply;
// with it on, at the late write. Engines replicate from onDurable, so
// what a kill -9 takes back was never sent anywhere: the loss is a loss
// everywhere, which the harness can see.
//
// Submit never blocks, so engines may call it while holding their own
// lock; apply callbacks run on the committer goroutine and may take that
// lock.
package durable
