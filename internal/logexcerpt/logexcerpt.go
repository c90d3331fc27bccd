// Package logexcerpt cuts a node's log down for an error message: its
// first lines and its last, since the cause of a failed start is often at
// the top (Go's "flag provided but not defined: -bogus", followed by a
// long usage text) and what the node did last is at the bottom. The local
// and the docker backend both show a log that way.
package logexcerpt

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Lines is how many lines an excerpt keeps at each end.
const Lines = 20

// Read reads a log to its end and returns its first and last Lines
// lines, each indented by four spaces, with a line saying how many were
// left out between them; a log of at most 2·Lines lines comes whole. It
// holds no more than 2·Lines lines at a time, however long the log.
func Read(r io.Reader) string {
	var head []string
	last := make([]string, Lines) // a ring of the last Lines lines
	n := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if n < Lines {
			head = append(head, sc.Text())
		}
		last[n%Lines] = sc.Text()
		n++
	}
	out := head
	switch {
	case n > 2*Lines:
		out = append(out, fmt.Sprintf("… %d lines left out …", n-2*Lines))
		fallthrough
	case n > Lines:
		from := max(Lines, n-Lines)
		for i := from; i < n; i++ {
			out = append(out, last[i%Lines])
		}
	}
	if err := sc.Err(); err != nil {
		out = append(out, fmt.Sprintf("(the log could not be read further: %v)", err))
	}
	if len(out) == 0 {
		return "    (the log is empty)"
	}
	return "    " + strings.Join(out, "\n    ")
}
