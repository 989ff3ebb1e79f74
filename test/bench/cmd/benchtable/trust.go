package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// endpointHost is the name the SDKs build for Secrets Manager in us-east-1
// when no endpoint is configured. The function's /etc/hosts sends it to
// the fake.
const endpointHost = "secretsmanager.us-east-1.amazonaws.com"

// pki is the model's certificate chain, as the real endpoint's is shaped:
// a root, an intermediate, and the endpoint's leaf, all RSA-2048.
type pki struct {
	root     *x509.Certificate
	rootPEM  []byte
	endpoint tls.Certificate // leaf + intermediate, the chain the endpoint sends
}

func newPKI() (*pki, error) {
	now := time.Now()
	type issued struct {
		cert *x509.Certificate
		der  []byte
		key  *rsa.PrivateKey
	}
	issue := func(tmpl *x509.Certificate, parent *issued) (*issued, error) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(7*24*time.Hour)
		signer, parentCert := key, tmpl
		if parent != nil {
			signer, parentCert = parent.key, parent.cert
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		return &issued{cert, der, key}, err
	}
	ca := func(cn string, pathLen int) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"Keygate Bench"}, CommonName: cn},
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  true,
			MaxPathLen:            pathLen,
			MaxPathLenZero:        pathLen == 0,
		}
	}
	root, err := issue(ca("Keygate Bench Test Root CA", -1), nil)
	if err != nil {
		return nil, fmt.Errorf("test PKI: %w", err)
	}
	inter, err := issue(ca("Keygate Bench RSA 2048 M01", 0), root)
	if err != nil {
		return nil, fmt.Errorf("test PKI: %w", err)
	}
	leaf, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: endpointHost},
		DNSNames:    []string{endpointHost},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, inter)
	if err != nil {
		return nil, fmt.Errorf("test PKI: %w", err)
	}
	return &pki{
		root:    root.cert,
		rootPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.der}),
		endpoint: tls.Certificate{
			Certificate: [][]byte{leaf.der, inter.der},
			PrivateKey:  leaf.key,
			Leaf:        leaf.cert,
		},
	}, nil
}

// mozillaDir holds Debian's copy of the Mozilla roots (package
// ca-certificates): what Amazon Linux 2023's bundle is made from too.
const mozillaDir = "/usr/share/ca-certificates/mozilla"

// atsRoots are the Amazon Trust Services roots, by their file names in
// mozillaDir: the certificates keygate's embedded pool holds.
var atsRoots = []string{
	"Amazon_Root_CA_1.crt",
	"Amazon_Root_CA_2.crt",
	"Amazon_Root_CA_3.crt",
	"Amazon_Root_CA_4.crt",
	"Starfield_Services_Root_Certificate_Authority_-_G2.crt",
}

// Paths inside the function's /etc (the overlay) and the model's files.
const (
	al2023Bundle      = "/etc/pki/tls/certs/ca-bundle.crt"
	bundleTarget      = "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
	trustBundleTarget = "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"
)

// trustLayout is what the model gives the function: the top layer of its
// /etc, and two files outside /etc.
type trustLayout struct {
	etc      string // overlaid on the host's /etc, read-only, in the function's mount namespace
	ats      string // the 5 ATS roots + the test root, PEM: keygate's AWS_CA_BUNDLE in the model
	testRoot string // the test root alone, PEM: Node's NODE_EXTRA_CA_CERTS
	certs    int    // certificates in the AL2023 bundle
}

// writeTrust lays out, under dir, the trust store of provided.al2023 with
// the test root in it, and the function's /etc/hosts:
//
//	pki/ca-trust/extracted/pem/tls-ca-bundle.pem         the bundle: the Mozilla roots + the test root
//	pki/ca-trust/extracted/openssl/ca-bundle.trust.crt   the same as BEGIN TRUSTED CERTIFICATE blocks
//	pki/tls/certs/ca-bundle.crt        -> the bundle
//	pki/tls/certs/ca-bundle.trust.crt  -> the trust bundle
//	pki/tls/cert.pem                   -> the bundle
//	ssl/certs                          -> ../pki/tls/certs
//	hosts                              the host's, plus endpointHost at smAddr
//
// Go's crypto/x509 reads the first bundle file it finds
// (/etc/pki/tls/certs/ca-bundle.crt there) and then every file in
// /etc/ssl/certs and /etc/pki/tls/certs, which are the same directory:
// both bundles twice.
func writeTrust(dir string, p *pki, hosts []byte) (*trustLayout, error) {
	names, err := filepath.Glob(filepath.Join(mozillaDir, "*.crt"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no certificates in %s: the model builds its Amazon Linux trust store from the Mozilla roots there (apt-get install ca-certificates)", mozillaDir)
	}
	slices.Sort(names)
	type named struct {
		name string
		der  []byte
	}
	var roots []named
	byFile := map[string][]byte{}
	for _, n := range names {
		der, err := readCert(n)
		if err != nil {
			return nil, err
		}
		byFile[filepath.Base(n)] = der
		roots = append(roots, named{strings.ReplaceAll(strings.TrimSuffix(filepath.Base(n), ".crt"), "_", " "), der})
	}
	roots = append(roots, named{p.root.Subject.CommonName, p.root.Raw})

	var bundle, trust bytes.Buffer
	for _, r := range roots {
		fmt.Fprintf(&bundle, "# %s\n", r.name)
		_ = pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: r.der})
		aux, err := trustAux(r.name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&trust, "# %s\n", r.name)
		_ = pem.Encode(&trust, &pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: append(slices.Clone(r.der), aux...)})
	}
	etc := filepath.Join(dir, "etc")
	t := &trustLayout{etc: etc, ats: filepath.Join(dir, "ats-and-test-root.pem"), testRoot: filepath.Join(dir, "test-root.pem"), certs: len(roots)}
	var ats bytes.Buffer
	for _, n := range atsRoots {
		der, ok := byFile[n]
		if !ok {
			return nil, fmt.Errorf("%s lacks %s, one of the Amazon Trust Services roots", mozillaDir, n)
		}
		_ = pem.Encode(&ats, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	ats.Write(p.rootPEM)

	files := map[string][]byte{
		strings.TrimPrefix(bundleTarget, "/etc/"):      bundle.Bytes(),
		strings.TrimPrefix(trustBundleTarget, "/etc/"): trust.Bytes(),
		"hosts": hosts,
	}
	links := map[string]string{
		"pki/tls/certs/ca-bundle.crt":       bundleTarget,
		"pki/tls/certs/ca-bundle.trust.crt": trustBundleTarget,
		"pki/tls/cert.pem":                  bundleTarget,
		"ssl/certs":                         "../pki/tls/certs",
	}
	for name, b := range files {
		if err := writeFile(filepath.Join(etc, name), b); err != nil {
			return nil, err
		}
	}
	for name, target := range links {
		path := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.Symlink(target, path); err != nil {
			return nil, err
		}
	}
	for path, b := range map[string][]byte{t.ats: ats.Bytes(), t.testRoot: p.rootPEM} {
		if err := writeFile(path, b); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// functionHosts is the host's /etc/hosts with the endpoint's name added.
func functionHosts(addr string) ([]byte, error) {
	b, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(b, fmt.Sprintf("%s %s\n", addr, endpointHost)...), nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// readCert reads one PEM certificate file.
func readCert(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return block.Bytes, nil
}

// trustAux is OpenSSL's X509_CERT_AUX for a root trusted for TLS servers,
// as `trust extract` writes it after each certificate in
// ca-bundle.trust.crt: SEQUENCE { trust SEQUENCE OF OID, alias UTF8String }.
func trustAux(alias string) ([]byte, error) {
	serverAuth := asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	return asn1.Marshal(struct {
		Trust []asn1.ObjectIdentifier
		Alias string `asn1:"utf8"`
	}{[]asn1.ObjectIdentifier{serverAuth}, alias})
}
