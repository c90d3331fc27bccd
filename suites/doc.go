// Package suites holds faultline's own suites, as ordinary Go tests of the
// reference store: every mode under every nemesis with the verdicts its
// model predicts, and every deliberate fault of the store caught by the
// checker that should catch it. `go test -short ./suites` (what `make
// test` runs) runs a representative subset with short runs; `go test
// ./suites` (`make suite`) runs the whole matrix. See README.md for the
// cases, the reliability of the expected failures, and the comparison
// table.
package suites
