package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/sixgate/sixgate/controller/ofp"
)

// ofpPrintMain implements "sixgate ofp-print [-hex] [-reencode] FILE|-":
// it decodes the OpenFlow 1.3 messages in FILE (standard input for "-")
// and prints each on its own line, or with -reencode writes the bytes the
// codec encodes them back to. It returns the process exit status: 1 with
// the decoder's error on input that does not decode, 2 on bad usage.
func ofpPrintMain(args []string) int {
	return ofpPrint(args, os.Stdin, os.Stdout, os.Stderr)
}

func ofpPrint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ofp-print", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hexIn := fs.Bool("hex", false, "input is hex text (whitespace is ignored)")
	reencode := fs.Bool("reencode", false, "write the re-encoded messages instead of printing them")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sixgate ofp-print [-hex] [-reencode] FILE|-")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}

	in, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "ofp-print: %v\n", err)
		return 1
	}
	if *hexIn {
		in, err = decodeHex(in)
		if err != nil {
			fmt.Fprintf(stderr, "ofp-print: %v\n", err)
			return 1
		}
	}

	r := ofp.NewReader(bytes.NewReader(in))
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "ofp-print: %v\n", err)
			return 1
		}
		if *reencode {
			b, err := ofp.Marshal(m)
			if err != nil {
				fmt.Fprintf(stderr, "ofp-print: %v\n", err)
				return 1
			}
			if _, err := stdout.Write(b); err != nil {
				fmt.Fprintf(stderr, "ofp-print: %v\n", err)
				return 1
			}
			continue
		}
		if _, err := fmt.Fprintln(stdout, ofp.Format(m)); err != nil {
			fmt.Fprintf(stderr, "ofp-print: %v\n", err)
			return 1
		}
	}
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// decodeHex decodes hex text with any whitespace between the digits, as
// xxd -p and hand-written dumps have it.
func decodeHex(in []byte) ([]byte, error) {
	digits := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, string(in))
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, fmt.Errorf("hex input: %w", err)
	}
	return b, nil
}
