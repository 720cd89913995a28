package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/sixgate/sixgate/controller/ofptest"
)

// testPKI is a CA with a server and client certificates signed by it.
type testPKI struct {
	pool           *x509.CertPool
	server, client tls.Certificate
	ca             *x509.Certificate
	caKey          *ecdsa.PrivateKey
}

// clientCert issues a client certificate with common name cn.
func (p testPKI) clientCert(t *testing.T, cn string) tls.Certificate {
	now := time.Now()
	_, _, c := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, p.ca, p.caKey)
	return c
}

func newCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	now := time.Now()
	ca, caKey, _ := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	_, _, server := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "controller"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	_, _, client := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "switch"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{pool: pool, server: server, client: client, ca: ca, caKey: caKey}
}

func TestTLSWithClientCertificates(t *testing.T) {
	pki := newPKI(t)
	app := &testApp{id: 7, flows: desiredFlows()}
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{
		Listen: "tls:127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		Apps: []App{app},
		Log:  logrus.NewEntry(log),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go c.Serve(ctx, l)

	dial := func(certs []tls.Certificate) (*ofptest.Switch, <-chan error) {
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pki.pool, Certificates: certs, ServerName: "127.0.0.1"})
		done := make(chan error, 1)
		sw := newFake(0x9)
		if err != nil {
			done <- err
			return sw, done
		}
		go func() { done <- sw.Serve(ctx, conn) }()
		return sw, done
	}

	// Without a client certificate the handshake fails and no switch
	// appears.
	_, done := dial(nil)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("switch without a certificate served to the end without error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("switch without a certificate still connected")
	}
	if _, ok := c.Switch(0x9); ok {
		t.Fatal("switch without a certificate registered")
	}

	// With one, it is programmed like any other.
	sw, _ := dial([]tls.Certificate{pki.client})
	ofptest.WaitFor(t, "switch up over TLS", func() bool { return app.upCount() == 1 })
	if n := len(sw.Flows()); n != 3 {
		t.Errorf("switch over TLS has %d flows, want 3", n)
	}
}

// switches[].tls_subject: a datapath id bound to a certificate is taken
// only by that certificate, and that certificate takes no other.
func TestTLSSubjectBinding(t *testing.T) {
	pki := newPKI(t)
	app := &testApp{id: 7, flows: desiredFlows()}
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{
		Listen: "tls:127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		SwitchSubjects: map[uint64]string{0xa1: "sw-a", 0xa2: "sw-b"},
		Apps:           []App{app},
		Log:            logrus.NewEntry(log),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go c.Serve(ctx, l)
	certA, certB, certC := pki.clientCert(t, "sw-a"), pki.clientCert(t, "sw-b"), pki.clientCert(t, "sw-c")

	dial := func(cert tls.Certificate, dpid uint64) <-chan error {
		done := make(chan error, 1)
		conn, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"})
		if err != nil {
			done <- err
			return done
		}
		go func() { done <- newFake(dpid).Serve(ctx, conn) }()
		return done
	}
	refused := func(what string, done <-chan error) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still connected", what)
		}
	}
	refused("sw-b claiming sw-a's datapath", dial(certB, 0xa1))
	refused("sw-a claiming an unbound datapath", dial(certA, 0xa3))
	if n := len(c.Switches()); n != 0 {
		t.Fatalf("%d switches registered, want none", n)
	}
	dial(certA, 0xa1)
	dial(certC, 0xa3) // unbound certificate, unbound datapath: not checked
	ofptest.WaitFor(t, "sw-a and sw-c up", func() bool { return app.upCount() == 2 })
	if _, ok := c.Switch(0xa1); !ok {
		t.Error("sw-a not registered")
	}
	if n := testutil.ToFloat64(c.metrics.refused.WithLabelValues("tls_subject")); n != 2 {
		t.Errorf("refused for the subject: %v, want 2", n)
	}
}
