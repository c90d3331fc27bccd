// Package durable is the reference store's durable storage for the causal
// and eventual modes: a bbolt file with group commit.
//
// An engine hands the DB a list of puts and deletes plus an apply
// callback (Submit). One committer goroutine takes every submission that
// is waiting, writes them all in one bbolt transaction (one commit: its
// pages, then its meta page, each followed by an fdatasync), then runs the submissions' apply callbacks in submission order and
// releases their waiters. So
//
//   - an acknowledged write is on disk (fsynced) before it is acknowledged;
//   - concurrency buys throughput: N concurrent writers share one commit
//     (Stats().Commits counts the fsynced transactions);
//   - state becomes visible (apply) in exactly the order it was submitted,
//     and never before it is durable, so a reader never sees a value that
//     a crash could take back.
//
// The deliberate fault ack-before-fsync (Options.AckBeforeFsync) breaks
// the first promise on purpose: submissions are applied and released at
// once, while their data waits in process memory and is written out only
// every Options.LateFlush (500 ms by default). A kill -9 within that
// window loses acknowledged writes, which is what the harness must catch.
// (Writing without fsync would not be enough: the page cache survives a
// process kill.)
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
