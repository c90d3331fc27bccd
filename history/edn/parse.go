package edn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the kind of an EDN form.
type kind uint8

const (
	kNil kind = iota
	kBool
	kInt
	kFloat
	kString
	kKeyword
	kSymbol
	kChar
	kVector
	kList
	kSet
	kMap
)

// form is one EDN value. Tags (#inst, #jepsen.history.Op, ...) are read
// and dropped: a tagged value stands for its value.
type form struct {
	kind kind
	// text is a number as written (without a bigint N or decimal M
	// suffix), a string's or char's contents, a keyword's or symbol's name
	// (without the colon), "true" or "false".
	text string
	// items are the elements of a vector, list or set; a map's keys and
	// values, alternating.
	items     []form
	line, col int
}

// SyntaxError says where an input is not the EDN this package reads, and
// what was expected there. Read returns it inside a *history.LineError,
// which names the line.
type SyntaxError struct {
	Line, Col int // 1-based
	Msg       string
	// EOF is set when the input ended inside a form: a torn write, if
	// the form was the last operation of a history being written.
	EOF bool
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("column %d: %s", e.Col, e.Msg)
}

// parser reads forms from a stream, keeping the line and column of each.
type parser struct {
	r         *bufio.Reader
	line, col int // of the last rune read
	// read holds the last runes read, each with the line and column
	// before it, so that unread can step back over a few (a newline
	// included); pending holds the runes unread, to be read again.
	read    []readRune
	pending []rune
	depth   int
	// stack gathers the elements of the collections being read, so that
	// each gets a slice of its exact size; tok gathers a token's runes.
	stack []form
	tok   []byte
	// names interns tokens: keywords and symbols repeat on every line.
	names map[string]string
	// lastContent is the line of the last rune read that is not white
	// space, so that a form cut short by the end of the input can be told
	// from one left open with more lines after it.
	lastContent int
}

type readRune struct {
	r         rune
	line, col int
}

// maxDepth bounds nesting: a history's values are shallow, and a deep
// input must not exhaust the stack.
const maxDepth = 1000

func newParser(r io.Reader) *parser {
	return &parser{r: bufio.NewReaderSize(r, 1<<16), line: 1, names: map[string]string{}}
}

func (p *parser) errorf(line, col int, format string, args ...any) error {
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// eofErrorf is errorf for an input that ended inside a form.
func (p *parser) eofErrorf(line, col int, format string, args ...any) error {
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), EOF: true}
}

// next reads one rune; io.EOF at the end.
func (p *parser) next() (rune, error) {
	var c rune
	if n := len(p.pending); n > 0 {
		c, p.pending = p.pending[n-1], p.pending[:n-1]
	} else {
		var err error
		c, _, err = p.r.ReadRune()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("read: %w", err)
		}
		if c == utf8.RuneError {
			return 0, p.errorf(p.line, p.col+1, "invalid UTF-8")
		}
	}
	if len(p.read) == 8 {
		copy(p.read, p.read[1:])
		p.read = p.read[:7]
	}
	p.read = append(p.read, readRune{c, p.line, p.col})
	switch c {
	case ' ', '\t', '\n', '\r', '\f', ',':
	default:
		p.lastContent = p.line
	}
	if c == '\n' {
		p.line++
		p.col = 0
	} else {
		p.col++
	}
	return c, nil
}

// unread steps back over the last rune read (up to eight in a row).
func (p *parser) unread() {
	last := p.read[len(p.read)-1]
	p.read = p.read[:len(p.read)-1]
	p.pending = append(p.pending, last.r)
	p.line, p.col = last.line, last.col
}

// skipSpace skips white space (commas included), comments and discarded
// forms (#_), and returns the next rune, unread; io.EOF at the end.
func (p *parser) skipSpace() (rune, error) {
	for {
		c, err := p.next()
		if err != nil {
			return 0, err
		}
		switch {
		case c == ';':
			for c != '\n' {
				if c, err = p.next(); err == io.EOF {
					return 0, io.EOF
				} else if err != nil {
					return 0, err
				}
			}
		case c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
		case c == '#':
			if d, err := p.next(); err == nil && d == '_' {
				if _, err := p.readForm(); err == io.EOF {
					return 0, p.eofErrorf(p.line, p.col, "#_ discards nothing: expected a form after it")
				} else if err != nil {
					return 0, err
				}
				continue
			} else if err == nil {
				p.unread()
			}
			p.unread()
			return c, nil
		default:
			p.unread()
			return c, nil
		}
	}
}

// readForm reads the next form; io.EOF when there is none.
func (p *parser) readForm() (form, error) {
	c, err := p.skipSpace()
	if err != nil {
		return form{}, err
	}
	line, col := p.line, p.col+1
	p.next()
	switch {
	case c == '#':
		return p.readDispatch(line, col)
	case c == '{':
		return p.readSeq(kMap, '}', line, col)
	case c == '[':
		return p.readSeq(kVector, ']', line, col)
	case c == '(':
		return p.readSeq(kList, ')', line, col)
	case c == '}' || c == ']' || c == ')':
		return form{}, p.errorf(line, col, "unexpected %q: no collection is open here", c)
	case c == '"':
		s, err := p.readString(line, col)
		return form{kind: kString, text: s, line: line, col: col}, err
	case c == '\\':
		return p.readChar(line, col)
	case c == ':':
		tok, err := p.readToken()
		if err != nil {
			return form{}, err
		}
		if tok == "" {
			return form{}, p.errorf(line, col, "expected a keyword name after ':'")
		}
		return form{kind: kKeyword, text: tok, line: line, col: col}, nil
	default:
		p.unread()
		tok, err := p.readToken()
		if err != nil {
			return form{}, err
		}
		if tok == "" {
			return form{}, p.errorf(line, col, "unexpected %q: expected a value", c)
		}
		return p.atom(tok, line, col)
	}
}

// readDispatch reads what follows a '#': a set, or a tagged value.
func (p *parser) readDispatch(line, col int) (form, error) {
	c, err := p.next()
	if err == io.EOF {
		return form{}, p.eofErrorf(line, col, "expected a set or a tag after '#', found the end of the input")
	} else if err != nil {
		return form{}, err
	}
	if c == '{' {
		return p.readSeq(kSet, '}', line, col)
	}
	p.unread()
	tag, err := p.readToken()
	if err != nil {
		return form{}, err
	}
	if tag == "" || !isLetter(rune(tag[0])) {
		return form{}, p.errorf(line, col, "expected a set #{...} or a tag like #inst after '#'")
	}
	v, err := p.readForm()
	if err == io.EOF {
		return form{}, p.eofErrorf(line, col, "tag #%s has no value", tag)
	}
	return v, err
}

func isLetter(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *parser) readSeq(k kind, end rune, line, col int) (form, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return form{}, p.errorf(line, col, "nested deeper than %d", maxDepth)
	}
	f := form{kind: k, line: line, col: col}
	mark := len(p.stack)
	defer func() { p.stack = p.stack[:mark] }()
	for {
		c, err := p.skipSpace()
		if err == io.EOF {
			return form{}, p.eofErrorf(line, col, "%s opened here is not closed: expected %q before the end of the input", k.name(), end)
		}
		if err != nil {
			return form{}, err
		}
		if c == end {
			p.next()
			break
		}
		item, err := p.readForm()
		if err != nil {
			return form{}, err
		}
		p.stack = append(p.stack, item)
	}
	f.items = slices.Clone(p.stack[mark:])
	if k == kMap && len(f.items)%2 != 0 {
		return form{}, p.errorf(line, col, "map has a key without a value (%d forms): expected key value pairs", len(f.items))
	}
	if k == kMap || k == kSet {
		step := 1
		if k == kMap {
			step = 2
		}
		if i, j := duplicate(f.items, step); j >= 0 {
			what := "key"
			if k == kSet {
				what = "element"
			}
			return form{}, p.errorf(f.items[j].line, f.items[j].col, "duplicate %s %s in a %s (first at line %d, column %d): Clojure's reader refuses it, and which one counts would be a guess",
				what, ednText(f.items[j]), k.name(), f.items[i].line, f.items[i].col)
		}
	}
	return f, nil
}

// duplicate returns the positions i < j of two equal forms among every
// step-th of items (a map's keys, a set's elements), or j = -1. Operation
// maps have a few keyword keys, compared pairwise without allocating;
// anything larger is compared by identity strings.
func duplicate(items []form, step int) (i, j int) {
	n := len(items) / step
	if n <= 16 {
		for j := step; j < len(items); j += step {
			for i := 0; i < j; i += step {
				if equiv(items[i], items[j]) {
					return i, j
				}
			}
		}
		return -1, -1
	}
	seen := make(map[string]int, n)
	for j := 0; j < len(items); j += step {
		id := identity(nil, items[j])
		if i, ok := seen[string(id)]; ok {
			return i, j
		}
		seen[string(id)] = j
	}
	return -1, -1
}

// class is a kind as Clojure's equality sees it: a vector equals a list
// with the same elements.
func (k kind) class() kind {
	if k == kList {
		return kVector
	}
	return k
}

// equiv reports whether Clojure takes a and b for the same map key or set
// element. Numbers compare as written (1 and 1N are one, as the parser
// drops the N; 1 and 1.0 are two, as in Clojure).
func equiv(a, b form) bool {
	if a.kind.class() != b.kind.class() {
		return false
	}
	switch a.kind {
	case kVector, kList:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !equiv(a.items[i], b.items[i]) {
				return false
			}
		}
		return true
	case kSet, kMap:
		// Unordered: compare their identities (rare in a key).
		return string(identity(nil, a)) == string(identity(nil, b))
	}
	return a.text == b.text
}

// identity appends a text that two forms share exactly when equiv holds:
// the kind's class, then the text or the elements (sorted for a set, by
// entry for a map).
func identity(b []byte, f form) []byte {
	b = append(b, byte('a'+f.kind.class()))
	switch f.kind {
	case kVector, kList:
		b = append(b, '[')
		for _, it := range f.items {
			b = identity(b, it)
		}
		return append(b, ']')
	case kSet, kMap:
		step := 1
		if f.kind == kMap {
			step = 2
		}
		parts := make([]string, 0, len(f.items)/step)
		for i := 0; i < len(f.items); i += step {
			e := identity(nil, f.items[i])
			if step == 2 {
				e = identity(e, f.items[i+1])
			}
			parts = append(parts, string(e))
		}
		slices.Sort(parts)
		b = append(b, '{')
		for _, e := range parts {
			b = append(b, e...)
		}
		return append(b, '}')
	}
	b = strconv.AppendInt(b, int64(len(f.text)), 10)
	b = append(b, ':')
	return append(b, f.text...)
}

func (k kind) name() string {
	switch k {
	case kMap:
		return "map"
	case kVector:
		return "vector"
	case kList:
		return "list"
	case kSet:
		return "set"
	}
	return "value"
}

// readToken reads the characters of a symbol, keyword name or number.
func (p *parser) readToken() (string, error) {
	p.tok = p.tok[:0]
	for {
		c, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		if !tokenRune(c) {
			p.unread()
			break
		}
		p.tok = utf8.AppendRune(p.tok, c)
	}
	if s, ok := p.names[string(p.tok)]; ok {
		return s, nil
	}
	s := string(p.tok)
	if len(p.names) < maxInterned {
		p.names[s] = s
	}
	return s, nil
}

// maxInterned bounds the tokens interned: numbers are tokens too, and a
// history of unique values should not grow a map as large as itself.
const maxInterned = 1 << 12

func tokenRune(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', ',', '{', '}', '[', ']', '(', ')', '"', ';', '\\':
		return false
	}
	return true
}

// atom reads a number, nil, a boolean or a symbol.
func (p *parser) atom(tok string, line, col int) (form, error) {
	switch tok {
	case "nil":
		return form{kind: kNil, line: line, col: col}, nil
	case "true", "false":
		return form{kind: kBool, text: tok, line: line, col: col}, nil
	}
	c := tok[0]
	if c >= '0' && c <= '9' || (c == '-' || c == '+') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		return p.number(tok, line, col)
	}
	return form{kind: kSymbol, text: tok, line: line, col: col}, nil
}

// number reads an integer (an N suffix marks a bigint) or a float (an M
// suffix marks a decimal), keeping the digits as written so that values
// compare as Clojure compares them (1 and 1.0 differ). A leading '+' is
// dropped.
func (p *parser) number(tok string, line, col int) (form, error) {
	t := strings.TrimPrefix(tok, "+")
	if s, ok := strings.CutSuffix(t, "N"); ok && isInt(s) {
		return form{kind: kInt, text: s, line: line, col: col}, nil
	}
	if isInt(t) {
		return form{kind: kInt, text: t, line: line, col: col}, nil
	}
	t = strings.TrimSuffix(t, "M")
	if _, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP_") && isJSONFloat(t) {
		return form{kind: kFloat, text: t, line: line, col: col}, nil
	}
	return form{}, p.errorf(line, col, "%q is not a number this reader takes: expected an integer (42, -7, 42N) or a decimal (1.5, 2e3, 1.5M); ratios, hex and radix numbers are not supported", tok)
}

func isInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isJSONFloat reports whether s is also a JSON number (digits on both
// sides of a point, no leading zeros), so that it can be written as one.
func isJSONFloat(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasFrac := strings.Cut(mant, ".")
	if !isInt(intPart) || strings.HasPrefix(intPart, "-") {
		return false
	}
	if hasFrac && (frac == "" || strings.Trim(frac, "0123456789") != "") {
		return false
	}
	if hasExp {
		exp = strings.TrimLeft(exp, "+-")
		if exp == "" || strings.Trim(exp, "0123456789") != "" {
			return false
		}
	}
	return true
}

func (p *parser) readString(line, col int) (string, error) {
	var b strings.Builder
	for {
		c, err := p.next()
		if err == io.EOF {
			return "", p.eofErrorf(line, col, "string opened here is not closed: expected '\"' before the end of the input")
		}
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			e, err := p.next()
			if err != nil {
				return "", p.eofErrorf(line, col, "string opened here is not closed: expected '\"' before the end of the input")
			}
			switch e {
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '\\', '"':
				b.WriteRune(e)
			case 'u':
				r, err := p.escapedRune()
				if err != nil {
					return "", err
				}
				b.WriteRune(r)
			default:
				return "", p.errorf(p.line, p.col, "unknown escape \\%c in a string: expected one of \\t \\r \\n \\b \\f \\\\ \\\" \\uXXXX", e)
			}
		default:
			b.WriteRune(c)
		}
	}
}

// escapedRune reads what follows a \u in a string: a character, or a
// surrogate pair written as two escapes. A lone surrogate is an error:
// written out it would become U+FFFD, so two different strings would read
// as one.
func (p *parser) escapedRune() (rune, error) {
	line, col := p.line, p.col-1
	r, err := p.hex4()
	if err != nil || !utf16.IsSurrogate(r) {
		return r, err
	}
	lone := func() error {
		return p.errorf(line, col, "lone surrogate \\u%04x in a string: expected a high surrogate \\ud800-\\udbff followed by a low one \\udc00-\\udfff", r)
	}
	if r >= 0xdc00 {
		return 0, lone()
	}
	if c, err := p.next(); err != nil || c != '\\' {
		return 0, lone()
	}
	if c, err := p.next(); err != nil || c != 'u' {
		return 0, lone()
	}
	lo, err := p.hex4()
	if err != nil {
		return 0, err
	}
	pair := utf16.DecodeRune(r, lo)
	if pair == utf8.RuneError {
		return 0, lone()
	}
	return pair, nil
}

func (p *parser) hex4() (rune, error) {
	var h [4]byte
	for i := range h {
		c, err := p.next()
		if err != nil || c > 0x7f {
			return 0, p.errorf(p.line, p.col, "expected four hex digits after \\u")
		}
		h[i] = byte(c)
	}
	n, err := strconv.ParseUint(string(h[:]), 16, 16)
	if err != nil {
		return 0, p.errorf(p.line, p.col, "expected four hex digits after \\u, found %q", h[:])
	}
	return rune(n), nil
}

func (p *parser) readChar(line, col int) (form, error) {
	c, err := p.next()
	if err != nil {
		return form{}, p.errorf(line, col, "expected a character after '\\'")
	}
	rest, err := p.readToken()
	if err != nil {
		return form{}, err
	}
	name := string(c) + rest
	ch := map[string]string{"newline": "\n", "return": "\r", "space": " ", "tab": "\t"}[name]
	switch {
	case ch != "":
	case utf8.RuneCountInString(name) == 1:
		ch = name
	case c == 'u' && len(rest) == 4:
		n, err := strconv.ParseUint(rest, 16, 16)
		if err != nil {
			return form{}, p.errorf(line, col, "bad character \\%s: expected \\uXXXX", name)
		}
		if utf16.IsSurrogate(rune(n)) {
			return form{}, p.errorf(line, col, "bad character \\%s: a lone surrogate is no character", name)
		}
		ch = string(rune(n))
	default:
		return form{}, p.errorf(line, col, "bad character \\%s: expected one character, \\newline, \\return, \\space, \\tab or \\uXXXX", name)
	}
	return form{kind: kChar, text: ch, line: line, col: col}, nil
}
