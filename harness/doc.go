// Package harness runs a test: it starts a cluster of a system under test
// on a backend, drives concurrent client processes against it from a
// generator while a nemesis injects faults, records every event in the
// history, heals, reads finally, and hands the history to the checkers.
//
// To test your own system (docs/testing-your-own-system.md), implement:
//
//   - System: how to run a node (Binary, Args) and talk to it (Ready,
//     NewClient); optionally Promiser (the model it keeps, whether it has
//     cas), LeaderFinder and ClockSkewer for the faults that need them.
//   - Client: performs an Op and returns a Completion: ok, fail (certainly
//     not applied) or info (may have been applied).
//
// Then fill a Test with values (System, Backend, a Workload such as
// workloads.KV(), a Nemesis such as nemesis.New(nemesis.Config{...}),
// TimeLimit, ...) and call Run, or harnesstest.Run from `go test` with an
// Expect.
// Backends are harness/local and harness/docker; harness/systemtest is the
// conformance suite a System should pass first.
//
// IO lives here and in the backends; the generators, workloads, nemesis
// schedules and checkers it drives are pure.
package harness
