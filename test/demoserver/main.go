// Command demoserver is the IPv6 server of the demo and the end-to-end
// tests: one process per host serving a line protocol, HTTP and HTTPS, and
// logging the address every connection comes from (for a spliced client,
// its IPv4 address embedded in pool6).
//
//	demoserver -name h1 [-line :80] [-http :8080] [-https :443]
//
// Line protocol: the server reads one line and answers
// "NAME got "LINE" from ADDR". HTTP and HTTPS: GET / answers
// "NAME: Host HOST from ADDR at LOCAL", LOCAL being the server's own
// address the connection reached (a host may have many); GET /bytes?n=N streams N bytes of a fixed
// pattern (&rate=R: at R bytes per second); POST /sha256 answers the SHA-256 of the body in hex.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	name := flag.String("name", "server", "name the server answers with")
	line := flag.String("line", ":80", "line protocol `address` (empty: off)")
	plain := flag.String("http", ":8080", "HTTP `address` (empty: off)")
	secure := flag.String("https", ":443", "HTTPS `address` (empty: off)")
	flag.Parse()
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetOutput(os.Stdout)

	errs := make(chan error, 3)
	if *line != "" {
		l, err := net.Listen("tcp", *line)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- serveLines(l, *name) }()
	}
	h := handler(*name)
	if *plain != "" {
		l, err := net.Listen("tcp", *plain)
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l) }()
	}
	if *secure != "" {
		cert, err := selfSigned(*name)
		if err != nil {
			log.Fatal(err)
		}
		l, err := tls.Listen("tcp", *secure, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			log.Fatal(err)
		}
		go func() { errs <- (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l) }()
	}
	log.Printf("%s: serving line=%q http=%q https=%q", *name, *line, *plain, *secure)
	log.Fatal(<-errs)
}

func serveLines(l net.Listener, name string) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			log.Printf("%s: line connection from %s", name, c.RemoteAddr())
			c.SetDeadline(time.Now().Add(30 * time.Second))
			s, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
			if err != nil && s == "" {
				return
			}
			if len(s) > 0 && s[len(s)-1] == '\n' {
				s = s[:len(s)-1]
			}
			fmt.Fprintf(c, "%s got %q from %s\n", name, s, c.RemoteAddr())
		}()
	}
}

func handler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		log.Printf("%s: %s request from %s for Host %s at %v", name, scheme(r), r.RemoteAddr, r.Host, local)
		fmt.Fprintf(w, "%s: Host %s from %s at %v\n", name, r.Host, r.RemoteAddr, local)
	})
	mux.HandleFunc("GET /bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 0 || n > 1<<32 {
			http.Error(w, "n: want a byte count", http.StatusBadRequest)
			return
		}
		rate, err := strconv.ParseInt(r.URL.Query().Get("rate"), 10, 64)
		if r.URL.Query().Has("rate") && (err != nil || rate <= 0) {
			http.Error(w, "rate: want bytes per second", http.StatusBadRequest)
			return
		}
		log.Printf("%s: sending %d bytes to %s", name, n, r.RemoteAddr)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		src := io.LimitReader(&pattern{}, n)
		if rate == 0 {
			io.Copy(w, src)
			return
		}
		paced(w, src, rate)
	})
	mux.HandleFunc("POST /sha256", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s: received %d bytes from %s", name, n, r.RemoteAddr)
		fmt.Fprintf(w, "%x\n", h.Sum(nil))
	})
	return mux
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "HTTPS"
	}
	return "HTTP"
}

// paced copies src to w at rate bytes per second, in slices of 50 ms,
// flushing each, so that a download lasts as long as the test wants
// whatever the client's reading.
func paced(w http.ResponseWriter, src io.Reader, rate int64) {
	buf := make([]byte, max(rate/20, 1))
	start := time.Now()
	var sent int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			http.NewResponseController(w).Flush()
			sent += int64(n)
			time.Sleep(time.Until(start.Add(time.Duration(sent * int64(time.Second) / rate))))
		}
		if err != nil {
			return
		}
	}
}

// pattern is an endless reader of a fixed byte sequence (byte i is i*7
// mod 256), so both ends can compute the checksum of any prefix of it.
type pattern struct{ off int }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte((r.off + i) * 7)
	}
	r.off += len(p)
	return len(p), nil
}

func selfSigned(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name, "a.example", "b.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
