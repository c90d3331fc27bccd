package procstat

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		state, pgrp   string
		ok            bool
	}{
		{"plain", "42 (storenode) S 1 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 9 0 12345 1 2", "S", "42", true},
		{"comm with spaces and parentheses", "42 (a ) (b) T 1 7 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 9 0 12345 1 2", "T", "7", true},
		{"truncated", "42 (x) S 1 42", "", "", false},
		{"no command", "42 x S", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := ReadFile(p)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (f[State] != tc.state || f[PGrp] != tc.pgrp || f[StartTime] != "12345") {
				t.Fatalf("state %q pgrp %q start %q", f[State], f[PGrp], f[StartTime])
			}
		})
	}
	f, err := Read(os.Getpid())
	if err != nil || f[PGrp] == "" {
		t.Fatalf("own stat: %v %v", f, err)
	}
	if _, err := strconv.Atoi(f[StartTime]); err != nil {
		t.Fatalf("own start time %q", f[StartTime])
	}
}
