// Package results turns a run directory into pages a person reads:
// report.html (verdicts, anomalies with their witness operations, latency
// and throughput plots with the faults shaded, a timeline, counts) and
// linearizability.html (Porcupine's view of the linearizable check), and
// serves a directory of runs over HTTP.
//
// It only reads what a run left behind (history.jsonl, test.json,
// results.json, nodes/*.log) and writes the two pages beside them; it never
// checks a history itself, so a page never shows a verdict that results.json
// does not hold. Building the page's content is pure (see buildReport); the
// IO is in WriteReports, LoadRun and the Server.
//
// The run directory layout and the report are described in README.md.
package results
