// Package history is faultline's history contract: the events a run records
// in history.jsonl, how they are written while a run goes (Recorder), read
// back (Read, ReadFile) and paired into operations (Pair).
//
// A history is plain data, in the spirit of Jepsen: other tools may write it
// and faultline's checkers will check it; faultline's recorder writes it and
// other tools may read it. The format is documented in the README ("The
// history contract"); this package is its single implementation in Go.
//
// This package does no checking of consistency: it only guarantees that what
// it hands to checkers is well-formed (every completion follows an invoke of
// the same process, types and functions are known, indices and times are
// ordered).
package history
