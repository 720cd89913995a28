package topo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxFileSize is the largest topology file Parse accepts. Real fabrics are
// far smaller; the bound keeps a wrong file (a disk image, a log) from being
// read into memory and parsed.
const MaxFileSize = 4 << 20

// Load reads and validates the topology file at path. Relative TLS file names
// are taken relative to the directory of path. A validation failure is
// returned as Errors listing every problem found.
func Load(path string) (*Topology, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	tlss := []*TLS{t.Controller.TLS}
	if t.HA != nil {
		tlss = append(tlss, t.HA.TLS)
	}
	for _, tls := range tlss {
		if tls == nil {
			continue
		}
		dir := filepath.Dir(path)
		for _, f := range []*string{&tls.Cert, &tls.Key, &tls.CA} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
	}
	return t, nil
}

// readLimited reads the file at path but no more than one byte past
// MaxFileSize, so that a huge or endless file is refused without being read
// into memory.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("topo: %w", err)
	}
	if len(data) > MaxFileSize {
		p := newProblems(path)
		p.addAt(0, "", "file is larger than the %d bytes allowed", MaxFileSize)
		return nil, p.err()
	}
	return data, nil
}

// Parse validates a topology file held in memory. name is only used in error
// messages. A validation failure is returned as Errors listing every problem
// found, each naming name, the line and the field.
func Parse(name string, data []byte) (*Topology, error) {
	p := newProblems(name)
	if len(data) > MaxFileSize {
		p.addAt(0, "", "file is %d bytes, more than the %d allowed", len(data), MaxFileSize)
		return nil, p.err()
	}
	var fc fileConfig
	if !readFile(p, data, &fc) {
		return nil, p.err()
	}
	b := newBuilder(p, name)
	b.build(&fc)
	if err := p.err(); err != nil {
		return nil, err
	}
	b.t.index()
	sum := sha256.Sum256(data)
	b.t.Hash = hex.EncodeToString(sum[:])
	b.t.Warnings = p.warnings
	b.t.keyLines = keepLines(p.lines)
	return b.t, nil
}
