package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Markers around the generated part of docs/benchmarks.md.
const (
	startMarker = "<!-- results:start -->"
	endMarker   = "<!-- results:end -->"
)

// publish copies a run into the docs: the Markdown between the markers of
// docs/benchmarks.md (headings moved one level down) and the chart as
// docs/benchmarks.png.
func publish(root, dir, md string) error {
	doc := filepath.Join(root, "docs", "benchmarks.md")
	b, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, startMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s section to replace", doc, startMarker, endMarker)
	}
	var body strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(l, "#") {
			l = "#" + l
		}
		body.WriteString(l + "\n")
	}
	body.WriteString("\n![iperf3 Mbit/s (left) and short connections per second (right) per setup](benchmarks.png)\n")
	s = s[:i+len(startMarker)] + "\n" + body.String() + s[j:]
	if err := os.WriteFile(doc, []byte(s), 0o644); err != nil {
		return err
	}
	png, err := os.ReadFile(filepath.Join(dir, "chart.png"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "docs", "benchmarks.png"), png, 0o644)
}
