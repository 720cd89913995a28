package topo

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem found in a topology file. Its text names the place so
// that an operator can go straight to it:
//
//	topo.yaml:12: hosts[2].mac: duplicate MAC 00:00:0a:00:00:01 (also hosts[0] at line 7)
type Error struct {
	File  string // the name given to Parse or the path given to Load
	Line  int    // 1-based; 0 when the problem has no single place
	Field string // path of the offending value, like "hosts[2].mac"; empty for the whole file
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order. Parse and Load
// return it (as an error) so that one run shows everything to fix, not only
// the first mistake.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// problems collects errors while a file is read. It knows the line of every
// field path seen in the document, so checks that run on decoded structs can
// still point at the source.
type problems struct {
	file     string
	lines    lineIndex
	list     Errors
	count    int      // problems found, which may exceed len(list)
	warnings []*Error // what loads but should change, like a deprecated key
}

// maxErrors bounds the list kept: past it nobody reads on, and a file built
// to produce millions of errors must not take the memory to hold them.
const maxErrors = 200

func newProblems(file string) *problems {
	return &problems{file: file, lines: lineIndex{}}
}

// add reports a problem at the line where path (or its nearest parent) is written.
func (p *problems) add(path, format string, args ...any) {
	p.addAt(p.lines.line(path), path, format, args...)
}

func (p *problems) addAt(line int, path, format string, args ...any) {
	p.count++
	if len(p.list) < maxErrors {
		p.list = append(p.list, &Error{File: p.file, Line: line, Field: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// merge takes the problems found in another file (a service's map file).
func (p *problems) merge(q *problems) {
	p.count += q.count
	for _, e := range q.list {
		if len(p.list) < maxErrors {
			p.list = append(p.list, e)
		}
	}
}

// warn records something that does not stop the file from loading but
// should change, at the line where path is written.
func (p *problems) warn(path, format string, args ...any) {
	if len(p.warnings) < maxErrors {
		p.warnings = append(p.warnings, &Error{File: p.file, Line: p.lines.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// err returns the collected problems sorted by line, or nil when there are none.
func (p *problems) err() error {
	if p.count == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	if p.count > len(p.list) {
		return append(p.list, &Error{File: p.file, Msg: fmt.Sprintf("%d more problems not shown", p.count-len(p.list))})
	}
	return p.list
}

// lineIndex maps a field path such as "hosts[2].mac" to the line it is written on.
type lineIndex map[string]int

// line finds the line of path, falling back to its parents ("hosts[2]", then
// "hosts") for values that were omitted and so have no line of their own.
func (ix lineIndex) line(path string) int {
	for path != "" {
		if l, ok := ix[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
