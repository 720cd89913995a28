package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sixgate/sixgate/test/ovs"
)

// writePKI writes a CA and two certificates it signs, one for the
// controller (127.0.0.1) and one for the switch, as PEM files in dir.
func writePKI(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sixgate test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, leaf := range []struct {
		name string
		ips  []net.IP
		use  x509.ExtKeyUsage
	}{
		{"controller", []net.IP{net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth},
		{"switch", nil, x509.ExtKeyUsageClientAuth},
	} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: leaf.name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: leaf.ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{leaf.use}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		write(leaf.name+"-cert.pem", "CERTIFICATE", der)
		write(leaf.name+"-key.pem", "PRIVATE KEY", kder)
	}
}

// Open vSwitch connects over TLS with its own certificate, as
// `ovs-vsctl set-ssl` configures it, and sixgate requires that certificate.
func TestOVSOverMutualTLS(t *testing.T) {
	ovs.Require(t)
	dir := t.TempDir()
	writePKI(t, dir)
	ovs.Run(t, "ovs-vsctl", "set-ssl", filepath.Join(dir, "switch-key.pem"), filepath.Join(dir, "switch-cert.pem"), filepath.Join(dir, "ca.pem"))
	t.Cleanup(func() { exec.Command("ovs-vsctl", "del-ssl").Run() })

	port := freePort(t)
	cfg := ovs.WriteFile(t, "tls.yaml", fmt.Sprintf(`controller:
  listen: "tls:127.0.0.1:%d"
  tls: {cert: %q, key: %q, ca: %q}
  http: "off"
switches:
  - {name: s1, dpid: "0xc1"}
`, port, filepath.Join(dir, "controller-cert.pem"), filepath.Join(dir, "controller-key.pem"), filepath.Join(dir, "ca.pem")))
	d := ovs.StartSixgate(t, ovs.BuildSixgate(t), "-config", cfg)
	b := ovs.NewBridge(t, "sgtls1", 0xc1, fmt.Sprintf("ssl:127.0.0.1:%d", port))
	if !ovs.Wait(30*time.Second, func() bool { return slices.Equal(b.DumpFlows(t), []string{tableMissFlow}) }) {
		t.Fatalf("bridge over TLS has flows %q; sixgate said:\n%s", b.DumpFlows(t), d.Logs())
	}

	// A controller that trusts another CA refuses the switch's certificate.
	other := t.TempDir()
	writePKI(t, other)
	port2 := freePort(t)
	cfg2 := ovs.WriteFile(t, "tls2.yaml", fmt.Sprintf(`controller:
  listen: "tls:127.0.0.1:%d"
  tls: {cert: %q, key: %q, ca: %q}
  http: "off"
switches:
  - {name: s1, dpid: "0xc2"}
`, port2, filepath.Join(dir, "controller-cert.pem"), filepath.Join(dir, "controller-key.pem"), filepath.Join(other, "ca.pem")))
	d2 := ovs.StartSixgate(t, ovs.BuildSixgate(t), "-config", cfg2)
	b2 := ovs.NewBridge(t, "sgtls2", 0xc2, fmt.Sprintf("ssl:127.0.0.1:%d", port2))
	if !ovs.Wait(30*time.Second, func() bool { return strings.Contains(d2.Logs(), "handshake failed") }) {
		t.Fatalf("a switch with an untrusted certificate was not refused:\n%s", d2.Logs())
	}
	if f := b2.DumpFlows(t); len(f) != 0 {
		t.Errorf("bridge with an untrusted certificate got flows %q", f)
	}
}
