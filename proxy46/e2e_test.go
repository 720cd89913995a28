package proxy46

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	hostA    = netip.MustParseAddr("2001:db8::a")
	hostB    = netip.MustParseAddr("2001:db8::b")
	hostC    = netip.MustParseAddr("2001:db8::c")
	hostDead = netip.MustParseAddr("2001:db8::dead") // no stack: SYNs vanish
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// e2eEngineConfig is the service set the netstack tests run against.
func e2eEngineConfig() Config {
	return Config{
		Pool6: pool6,
		Services: []Service{
			{VIP: vip, Port: 80, Policy: PolicyHTTPHost, Default: ap(hostC, 80), Backends: []Backend{
				{Addr: ap(hostA, 80), Match: []string{"a.example"}},
				{Addr: ap(hostB, 80), Match: []string{"b.example"}},
			}},
			{VIP: vip, Port: 443, Policy: PolicySNI, Backends: []Backend{
				{Addr: ap(hostA, 443), Match: []string{"a.example"}},
				{Addr: ap(hostB, 443), Match: []string{"b.example", "*.e.example"}},
			}},
			{VIP: vip, Port: 7, Policy: PolicyPrefix, Backends: []Backend{
				{Addr: ap(hostA, 7), Match: []string{"A"}},
				{Addr: ap(hostB, 7), Match: []string{"B"}},
			}},
			{VIP: vip, Port: 9000, Policy: PolicyRoundRobin, Backends: []Backend{{Addr: ap(hostA, 9000)}}},
			{VIP: vip, Port: 9001, Policy: PolicyRoundRobin, Backends: []Backend{{Addr: ap(hostB, 9000)}}},
			// Failover: A has nothing on 81 and refuses; hostDead never answers.
			{VIP: vip, Port: 81, Policy: PolicyHTTPHost, Backends: []Backend{
				{Addr: ap(hostA, 81), Match: []string{"refused.example", "alone.example"}},
				{Addr: ap(hostDead, 80), Match: []string{"silent.example"}},
				{Addr: ap(hostB, 80), Match: []string{"refused.example", "silent.example"}},
			}},
			// Server speaks first: an L4 policy decides at the handshake.
			{VIP: vip, Port: 25, Policy: PolicyHash, Backends: []Backend{{Addr: ap(hostC, 25)}}},
		},
		Timeouts: Timeouts{SYNRetransmit: 100 * time.Millisecond, Backend: 300 * time.Millisecond},
		ISNKey:   [16]byte{9, 9, 9},
	}
}

// e2eFabric builds the network with backends of different window scales:
// A offers 3, B offers 9, C the netstack default; the edge offers 7.
func e2eFabric(t testing.TB, toClient, toBackend impairment) *fabric {
	f := newFabric(t, fabricConfig{
		engine: e2eEngineConfig(),
		// A small client MTU makes a post-quantum ClientHello span
		// segments.
		client: netstackOptions{rcvBuf: 4 << 20, mtu: 1280},
		backends: map[netip.Addr]netstackOptions{
			hostA: {rcvBuf: 256 << 10},
			hostB: {rcvBuf: 16 << 20},
			hostC: {},
		},
		toClient: toClient, toBackend: toBackend, seed: 7,
	})
	cert := selfSigned(t)
	f.tlsCert = cert
	for _, h := range []struct {
		addr netip.Addr
		name string
	}{{hostA, "A"}, {hostB, "B"}, {hostC, "C"}} {
		serveHTTP(t, f.listen(ap(h.addr, 80)), h.name, nil)
		serveHTTP(t, f.listen(ap(h.addr, 443)), h.name, &tls.Config{Certificates: []tls.Certificate{cert}})
		serveEcho(t, f.listen(ap(h.addr, 7)), h.name)
		serveBulk(t, f.listen(ap(h.addr, 9000)))
		serveBanner(t, f.listen(ap(h.addr, 25)), h.name)
	}
	return f
}

func serveHTTP(t testing.TB, l net.Listener, name string, tlsConf *tls.Config) {
	if tlsConf != nil {
		l = tls.NewListener(l, tlsConf)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni := ""
		if r.TLS != nil {
			sni = r.TLS.ServerName
		}
		fmt.Fprintf(w, "%s host=%s sni=%s", name, r.Host, sni)
	}), ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// serveEcho answers each connection with the backend name, then echoes.
func serveEcho(t testing.TB, l net.Listener, name string) {
	serveEach(l, func(c net.Conn) {
		c.Write([]byte(name + ":"))
		io.Copy(c, c)
	})
}

// serveBanner speaks first, as SMTP does.
func serveBanner(t testing.TB, l net.Listener, name string) {
	serveEach(l, func(c net.Conn) {
		c.Write([]byte("220 " + name + "\r\n"))
	})
}

func serveEach(l net.Listener, h func(net.Conn)) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Minute))
				h(c)
			}()
		}
	}()
}

// serveBulk reads a header (bytes up, bytes down, seed), then sends the
// down stream while hashing the up stream, and ends with that hash.
func serveBulk(t testing.TB, l net.Listener) {
	serveEach(l, func(c net.Conn) {
		var hdr [24]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		up, down := binary.BigEndian.Uint64(hdr[0:]), binary.BigEndian.Uint64(hdr[8:])
		seed := binary.BigEndian.Uint64(hdr[16:])
		sum := make(chan []byte, 1)
		go func() {
			h := sha256.New()
			if _, err := io.CopyN(h, c, int64(up)); err != nil {
				sum <- nil
				return
			}
			sum <- h.Sum(nil)
		}()
		if _, err := io.CopyN(c, newStream(seed), int64(down)); err != nil {
			return
		}
		if s := <-sum; s != nil {
			c.Write(s)
		}
	})
}

// newStream is a deterministic byte stream both ends can regenerate.
func newStream(seed uint64) io.Reader {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], seed)
	return mrand.NewChaCha8(key)
}

// bulk sends up bytes and receives down bytes over one connection,
// checking both directions with sha256.
func bulk(ctx context.Context, f *fabric, port uint16, up, down int, seed uint64) error {
	c, err := f.dial(ctx, port)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	var hdr [24]byte
	binary.BigEndian.PutUint64(hdr[0:], uint64(up))
	binary.BigEndian.PutUint64(hdr[8:], uint64(down))
	binary.BigEndian.PutUint64(hdr[16:], seed+1)
	upHash := sha256.New()
	werr := make(chan error, 1)
	go func() {
		if _, err := c.Write(hdr[:]); err != nil {
			werr <- err
			return
		}
		_, err := io.CopyN(io.MultiWriter(c, upHash), newStream(seed), int64(up))
		werr <- err
	}()
	got := sha256.New()
	if _, err := io.CopyN(got, c, int64(down)); err != nil {
		return fmt.Errorf("read down stream: %w", err)
	}
	want := sha256.New()
	io.CopyN(want, newStream(seed+1), int64(down))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return errors.New("down stream corrupted")
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write up stream: %w", err)
	}
	var echoed [32]byte
	if _, err := io.ReadFull(c, echoed[:]); err != nil {
		return fmt.Errorf("read up hash: %w", err)
	}
	if !bytes.Equal(echoed[:], upHash.Sum(nil)) {
		return errors.New("up stream corrupted")
	}
	return nil
}

// selfSigned makes a certificate for the test names.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sixgate test"},
		DNSNames:  []string{"a.example", "b.example", "*.e.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// httpClient sends every request through the client stack to the VIP,
// whatever the URL's host, on a new connection each time.
func (f *fabric) httpClient(cert tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			_, port, _ := strings.Cut(addr, ":")
			var p uint16
			fmt.Sscan(port, &p)
			return f.dial(ctx, p)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: true,
	}}
}

func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// checkRouting issues HTTP, HTTPS, prefix and banner requests and checks
// each reached the right backend.
func checkRouting(ctx context.Context, t *testing.T, f *fabric, cert tls.Certificate) {
	client := f.httpClient(cert)
	for _, tc := range []struct{ url, want string }{
		{"http://a.example/", "A host=a.example sni="},
		{"http://b.example:80/", "B host=b.example:80 sni="},
		{"http://elsewhere.example/", "C host=elsewhere.example sni="},
		{"https://a.example/", "A host=a.example sni=a.example"},
		{"https://b.example/", "B host=b.example sni=b.example"},
		{"https://x.e.example/", "B host=x.e.example sni=x.e.example"},
	} {
		got, err := get(ctx, client, tc.url)
		if err != nil || got != tc.want {
			t.Errorf("GET %s = %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
	for _, p := range []string{"A", "B"} {
		if got, err := echo(ctx, f, p+"-hello"); err != nil || got != p+":"+p+"-hello" {
			t.Errorf("prefix %s: %q, %v", p, got, err)
		}
	}
	if got, err := banner(ctx, f); err != nil || got != "220 C\r\n" {
		t.Errorf("server-speaks-first: %q, %v", got, err)
	}
}

func echo(ctx context.Context, f *fabric, msg string) (string, error) {
	c, err := f.dial(ctx, 7)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg)+2)
	_, err = io.ReadFull(c, buf)
	return string(buf), err
}

func banner(ctx context.Context, f *fabric) (string, error) {
	c, err := f.dial(ctx, 25)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestNetstackRouting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})
	cert := f.tlsCert
	checkRouting(ctx, t, f, cert)
	st := f.engine.Stats()
	if st.Drops[DropMalformed] != 0 || st.ClientResets != 0 {
		t.Errorf("unexpected drops or resets: %+v", st)
	}
}

// TestNetstackManyConnections runs 1000 HTTP connections, each on its own
// TCP connection, spread over the Host-routed backends.
func TestNetstackManyConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})
	client := f.httpClient(f.tlsCert)
	const total, workers = 1000, 16
	jobs := make(chan int)
	errs := make(chan error, total)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				host, want := "a.example", "A"
				switch i % 3 {
				case 1:
					host, want = "b.example", "B"
				case 2:
					host, want = fmt.Sprintf("n%d.example", i), "C"
				}
				got, err := get(ctx, client, "http://"+host+"/")
				if err == nil && !strings.HasPrefix(got, want+" host="+host) {
					err = fmt.Errorf("got %q", got)
				}
				if err != nil {
					errs <- fmt.Errorf("request %d to %s: %w", i, host, err)
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.engine.Stats()
	if st.Spliced != total {
		t.Errorf("spliced %d connections, want %d", st.Spliced, total)
	}
	var chosen uint64
	for _, b := range st.Backends {
		if b.VIP.Port() == 80 {
			chosen += b.Chosen
		}
	}
	if chosen != total {
		t.Errorf("backend choices %d, want %d", chosen, total)
	}
}

// TestNetstackBulk moves 10 MB each way through backends whose window
// scales (3 and 9) differ from the one the edge offers the client (7).
func TestNetstackBulk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})
	for _, port := range []uint16{9000, 9001} {
		start := time.Now()
		if err := bulk(ctx, f, port, 10<<20, 10<<20, uint64(port)); err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		t.Logf("port %d: 10 MB each way in %v", port, time.Since(start))
	}
	// The connections linger: check the scales really differed.
	f.engine.mu.Lock()
	defer f.engine.mu.Unlock()
	scales := map[uint16]uint8{}
	for _, c := range f.engine.all {
		if c.k4.vipPort >= 9000 {
			if !c.rescaleB2C || !c.clientWScale || c.scaleEdge != 7 {
				t.Errorf("port %d: no rescaling (client %v, backend %d)", c.k4.vipPort, c.clientWScale, c.scaleBackend)
			}
			scales[c.k4.vipPort] = c.scaleBackend
		}
	}
	if scales[9000] >= 7 || scales[9001] <= 7 {
		t.Errorf("backend window scales %v, want one below 7 and one above", scales)
	}
}

// TestNetstackImpaired injects loss, duplication and reordering on both
// sides; every transfer must still complete intact.
func TestNetstackImpaired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	imp := impairment{Loss: 0.03, Duplicate: 0.02, Reorder: 0.03}
	f := e2eFabric(t, imp, imp)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkRouting(ctx, t, f, f.tlsCert)
		}()
	}
	for i, port := range []uint16{9000, 9001} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := bulk(ctx, f, port, 2<<20, 2<<20, uint64(100+i)); err != nil {
				errs <- fmt.Errorf("bulk via %d: %w", port, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := f.engine.Stats()
	t.Logf("spliced %d, drops %v, held total %d", st.Spliced, st.Drops, st.HeldBytesTotal)
}

// TestNetstackFailover: a refusing backend and a silent one are skipped
// for the next backend of the same match; with none left the client is
// reset.
func TestNetstackFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := e2eFabric(t, impairment{}, impairment{})
	client := f.httpClient(f.tlsCert)
	for _, tc := range []struct{ host, want string }{
		{"refused.example", "B host=refused.example:81 sni="},
		{"silent.example", "B host=silent.example:81 sni="},
	} {
		got, err := get(ctx, client, "http://"+tc.host+":81/")
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.host, got, err, tc.want)
		}
	}
	_, err := get(ctx, client, "http://alone.example:81/")
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Errorf("alone.example: error %v, want a connection reset", err)
	}
	st := f.engine.Stats()
	if st.BackendRefused < 2 || st.BackendTimeouts != 1 || st.Failovers != 2 || st.NoBackend != 1 {
		t.Errorf("refused %d, timeouts %d, failovers %d, no backend %d",
			st.BackendRefused, st.BackendTimeouts, st.Failovers, st.NoBackend)
	}
}
