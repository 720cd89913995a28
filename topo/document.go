package topo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the work done walking a document, so that a small file that
// grows huge through aliases is rejected rather than walked.
const maxNodes = 1 << 20

// readFile turns the YAML text into fc. It reports syntax errors, unknown or
// repeated keys and values of the wrong shape (a list where a mapping belongs),
// and fills p.lines with the line of every field on the way. It returns false
// when fc cannot be trusted.
func readFile(p *problems, data []byte, fc *fileConfig) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.addAt(0, "", "empty file: declare at least one switch, or a dns64 section")
		} else {
			addYAMLError(p, err)
		}
		return false
	}
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			addYAMLError(p, err)
			return false
		}
		if !isEmptyDocument(&extra) {
			p.addAt(extra.Line, "", "a second YAML document is not allowed; put everything in one")
			return false
		}
	}

	check := &shapeCheck{p: p}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	check.walk(root, reflect.TypeOf(fileConfig{}), "")
	if p.count > 0 {
		return false
	}

	// The shape check above has rejected unknown keys, with better messages
	// than the decoder's, so the tree it walked is decoded as it is rather
	// than parsed a second time (half the time on large files).
	if err := doc.Decode(fc); err != nil {
		addYAMLError(p, err)
		return false
	}
	return true
}

var yamlLinePrefix = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError reports an error from the YAML library, moving its "line N:"
// prefix into the Line field so that it reads like every other problem.
func addYAMLError(p *problems, err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		if sub := yamlLinePrefix.FindStringSubmatch(m); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			p.addAt(line, "", "%s", sub[2])
			continue
		}
		p.addAt(0, "", "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

// shapeCheck walks the node tree beside the Go type it will be decoded into.
type shapeCheck struct {
	p     *problems
	nodes int
}

func (c *shapeCheck) walk(n *yaml.Node, t reflect.Type, path string) {
	c.nodes++
	if c.nodes > maxNodes {
		if c.nodes == maxNodes+1 {
			c.p.addAt(n.Line, path, "document too large (more than %d values after expanding aliases)", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value decodes to the zero value, which the checks treat as missing
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.p.addAt(n.Line, path, "expected a mapping of fields, got %s", describe(n))
			return
		}
		c.mapping(n, t, path, map[string]int{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.p.addAt(n.Line, path, "expected a list, got %s", describe(n))
			return
		}
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			c.p.lines[ip] = item.Line
			c.walk(item, t.Elem(), ip)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			c.p.addAt(n.Line, path, "expected true or false, got %s", describe(n))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			c.p.addAt(n.Line, path, "expected a single value, got %s", describe(n))
		}
	}
}

// mapping checks the keys of n against the yaml tags of struct type t. seen
// is shared with merged mappings ("<<: *base") so that explicit keys may
// override merged ones but not repeat each other.
func (c *shapeCheck) mapping(n *yaml.Node, t reflect.Type, path string, seen map[string]int) {
	fields := yamlFields(t)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.p.addAt(k.Line, path, "expected a field name, got %s", describe(k))
			continue
		}
		fp := k.Value
		if path != "" {
			fp = path + "." + k.Value
		}
		if prev, dup := seen[k.Value]; dup {
			c.p.addAt(k.Line, fp, "key given twice (also at line %d)", prev)
			continue
		}
		seen[k.Value] = k.Line
		ft, known := fields[k.Value]
		if !known {
			c.p.addAt(k.Line, fp, "unknown field (known fields: %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		c.p.lines[fp] = k.Line
		c.walk(v, ft, fp)
	}
	for _, m := range merges {
		c.merge(m, t, path, seen)
	}
}

func (c *shapeCheck) merge(m *yaml.Node, t reflect.Type, path string, explicit map[string]int) {
	if m.Kind == yaml.AliasNode && m.Alias != nil {
		m = m.Alias
	}
	switch m.Kind {
	case yaml.MappingNode:
		// Merged keys may be overridden by explicit ones, so they get a
		// private copy of the seen set.
		seen := make(map[string]int, len(explicit))
		for k := range explicit {
			seen[k] = -1
		}
		c.mergedMapping(m, t, path, seen)
	case yaml.SequenceNode:
		for _, item := range m.Content {
			c.merge(item, t, path, explicit)
		}
	default:
		c.p.addAt(m.Line, path, "<< must merge a mapping, got %s", describe(m))
	}
}

// mergedMapping checks a merged mapping's keys without recording their lines,
// which belong to the anchor rather than to the entry that merges it.
func (c *shapeCheck) mergedMapping(n *yaml.Node, t reflect.Type, path string, seen map[string]int) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			c.merge(v, t, path, seen)
			continue
		}
		if k.Kind != yaml.ScalarNode || seen[k.Value] == -1 {
			continue
		}
		ft, known := fields[k.Value]
		if !known {
			c.p.addAt(k.Line, path+"."+k.Value, "unknown field (known fields: %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		c.walk(v, ft, path+"."+k.Value)
	}
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	default:
		return strconv.Quote(n.Value)
	}
}

// isEmptyDocument reports whether n holds nothing, as after a trailing "---".
func isEmptyDocument(n *yaml.Node) bool {
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!null" {
			return false
		}
	}
	return true
}
