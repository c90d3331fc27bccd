// Package harnesstest runs faultline tests from `go test`, as
// net/http/httptest serves HTTP in tests: Run runs a harness.Test on a
// *testing.T, logs its run directory and fails the test when a verdict
// differs from what the test expects (harness.Expect). It is a package of
// its own so that package harness, and the faultline binary that links
// it, do not import "testing"; import it only from _test.go files (or
// from other test-helper packages such as harness/reftest).
package harnesstest
