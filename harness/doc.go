// Package harness runs a test: it starts a cluster of a system under test
// on a backend, drives concurrent client processes against it from a
// generator while a nemesis injects faults, records every event in the
// history, heals, reads finally, and hands the history to the checkers.
//
// IO lives here and in the backends (local processes, docker); the
// generators, workloads, nemesis schedules and checkers it drives are pure.
package harness
