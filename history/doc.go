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
//
// Reading is streamed line by line and costs little beyond the events it
// returns: lines of the usual shape are tokenized once by jsontext
// (encoding/json/v2's tokenizer) with strings interned and values copied
// into shared blocks, and every other line is decoded by encoding/json,
// which also words every error (fastread.go says which lines go which
// way; FuzzLineParser holds both to the same result). The event slice is
// sized by counting the file's lines first. On a 75,000-event kv history
// (8.4 MB, 20 processes, 136 keys), on the shared 2-core VM under load:
//
//	go test -run '^$' -bench BenchmarkRead -benchtime 20x -count 3 ./history/
//
//	                          CPU/op          allocated       allocations
//	ReadFile                  0.053–0.061 s   10.9 MB               191
//	ReadFile, encoding/json   0.230–0.235 s   43.1 MB         1,131,700
//	plain encoding/json loop  0.279–0.285 s   83.0 MB           757,600
//
// (the plain loop: bufio.Scanner and json.Unmarshal into Event, appending
// to a slice, no validation). Wall time was 3–10 times the CPU time under
// the machine's load, alike for all three.
package history
