package logexcerpt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.String()
}

func TestRead(t *testing.T) {
	indent := func(lines ...string) string { return "    " + strings.Join(lines, "\n    ") }
	tests := []struct {
		name, log, want string
	}{
		{"empty", "", "    (the log is empty)"},
		{"short, whole", "a\nb\n", indent("a", "b")},
		{"no final newline", "a\nb", indent("a", "b")},
		{"exactly the head", numbered(Lines), strings.TrimSuffix(indent(strings.Split(numbered(Lines), "\n")...), "\n    ")},
		{"head and tail, nothing left out", numbered(2 * Lines), strings.TrimSuffix(indent(strings.Split(numbered(2*Lines), "\n")...), "\n    ")},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Read(strings.NewReader(tc.log)), tc.name)
	}

	// Go's flag package: the cause on the first line, a long usage after.
	log := "flag provided but not defined: -bogus\nUsage of node:\n" + numbered(200) + "exit status 2\n"
	got := Read(strings.NewReader(log))
	lines := strings.Split(got, "\n")
	assert.Len(t, lines, 2*Lines+1)
	assert.Equal(t, "    flag provided but not defined: -bogus", lines[0], "the cause at the top stays")
	assert.Equal(t, "    line 18", lines[Lines-1])
	assert.Equal(t, "    … 163 lines left out …", lines[Lines])
	assert.Equal(t, "    line 182", lines[Lines+1])
	assert.Equal(t, "    exit status 2", lines[2*Lines], "and so does the end")
}
