package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/sixgate/sixgate/bench/report"
)

// microLine is one line of go test -bench output for BenchmarkEstablished:
// name/conns=N/payload=N/direction-GOMAXPROCS, iterations, then ns/op,
// B/op and allocs/op.
var microLine = regexp.MustCompile(`^BenchmarkEstablished/conns=(\d+)/payload=(\d+)/([a-z-]+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+[\d.]+ MB/s)?\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

// chooseLine is one line of BenchmarkChooseByName: names=N, then ns/op,
// B/op and allocs/op.
var chooseLine = regexp.MustCompile(`^BenchmarkChooseByName/names=(\d+)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

// runMicro runs the engine's established-path benchmarks: one segment each
// way, 64 and 1460 bytes of payload, 1, 10^4 and 10^6 connections.
func runMicro(ctx context.Context, o *options) ([]report.Micro, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^(BenchmarkEstablished|BenchmarkChooseByName)$", "-benchmem",
		"-benchtime", o.benchtime, "-count", "1", "./proxy46/")
	cmd.Dir = o.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %v: %s", err, lastLines(out, 10))
	}
	ms := parseMicro(out)
	ms = append(ms, parseChoose(out)...)
	if len(ms) == 0 {
		return nil, fmt.Errorf("no BenchmarkEstablished results in: %s", lastLines(out, 10))
	}
	return ms, nil
}

func parseMicro(out []byte) []report.Micro {
	var ms []report.Micro
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := microLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		conns, _ := strconv.Atoi(m[1])
		payload, _ := strconv.Atoi(m[2])
		ns, _ := strconv.ParseFloat(m[4], 64)
		bytesOp, _ := strconv.ParseFloat(m[5], 64)
		allocs, _ := strconv.ParseFloat(m[6], 64)
		ms = append(ms, report.Micro{Conns: conns, Payload: payload, Direction: m[3], NsPerOp: ns, BytesPerOp: bytesOp, AllocsPerOp: allocs})
	}
	return ms
}

// parseChoose reads the backend-choice benchmark as Micro rows with
// Direction "choose-by-name" and Conns holding the number of names.
func parseChoose(out []byte) []report.Micro {
	var ms []report.Micro
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := chooseLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		names, _ := strconv.Atoi(m[1])
		ns, _ := strconv.ParseFloat(m[2], 64)
		bytesOp, _ := strconv.ParseFloat(m[3], 64)
		allocs, _ := strconv.ParseFloat(m[4], 64)
		ms = append(ms, report.Micro{Conns: names, Direction: report.ChooseByName, NsPerOp: ns, BytesPerOp: bytesOp, AllocsPerOp: allocs})
	}
	return ms
}

func lastLines(b []byte, n int) string {
	ls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
