package history

// SetFastPath turns lineParser's fast path on or off, for benchmarks that
// compare it with encoding/json alone.
func SetFastPath(on bool) { fastPath = on }
