package scanner

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/apikey"
	"github.com/keygate/keygate/test/internal/repo"
)

const (
	// pluginFile is the detect-secrets plugin users copy from the docs.
	pluginFile = "docs/scanning/keygate_detect_secrets.py"
	// pluginClass and secretType are its class and the type it reports.
	pluginClass = "KeygateKeyDetector"
	secretType  = "keygate API key"
	// securityDoc states the expression in section docSection.
	securityDoc = "docs/security.md"
	docSection  = "## Keys secret scanners can find"
)

// report is the part of `detect-secrets scan`'s JSON output the test reads.
type report struct {
	PluginsUsed []struct {
		Name string `json:"name"`
	} `json:"plugins_used"`
	Results map[string][]finding `json:"results"`
}

type finding struct {
	Type         string `json:"type"`
	HashedSecret string `json:"hashed_secret"`
	LineNumber   int    `json:"line_number"`
}

// TestDetectSecretsFindsOnlyMintedKeys runs the real detect-secrets with
// the plugin over a file holding a key keygate made and two look-alikes of
// the same shape, one with a wrong checksum character and one with a wrong
// random character: only the real key's line may be reported.
func TestDetectSecretsFindsOnlyMintedKeys(t *testing.T) {
	bin, err := repo.Tool("detect-secrets")
	if err != nil {
		t.Fatal(err)
	}
	plugin := rootFile(t, pluginFile)

	minted := apikey.Generate()
	badChecksum := alter(minted, apikey.GeneratedLength-1)
	badRandom := alter(minted, len(apikey.Prefix))
	keys := map[string]string{minted: "the minted key", badChecksum: "the look-alike with a wrong checksum character", badRandom: "the look-alike with a wrong random character"}

	// The look-alikes differ from the key only where the checksum can tell:
	// the expression alone matches all three.
	re := regexp.MustCompile(pluginPattern(t, readRoot(t, pluginFile)))
	for key, name := range keys {
		if !re.MatchString(key) {
			t.Fatalf("the plugin's expression %s does not match %s %q", re, name, key)
		}
		if apikey.WellFormed(key) != (key == minted) {
			t.Fatalf("apikey.WellFormed(%s %q) = %v", name, key, apikey.WellFormed(key))
		}
	}

	lines := []string{
		"# keygate client settings",
		"KEYGATE_URL=https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
		"KEYGATE_API_KEY=" + badChecksum,
		`curl -sS -H "x-api-key: ` + minted + `" https://abc123.execute-api.eu-west-1.amazonaws.com/prod/orders`,
		`curl -sS -H 'x-api-key: ` + badRandom + `' https://abc123.execute-api.eu-west-1.amazonaws.com/prod/orders`,
	}
	const mintedLine = 4
	dir := t.TempDir()
	const scanned = "client.env"
	if err := os.WriteFile(filepath.Join(dir, scanned), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("writing the file to scan: %v", err)
	}

	// detect-secrets skips a file outside its working directory, so it
	// runs in the file's directory and is given the file by name.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "scan", "--plugin", plugin, scanned)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s scan --plugin %s %s: %v\n%s", bin, plugin, scanned, err, stderr.String())
	}
	var got report
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("decoding detect-secrets' output: %v\n%s", err, stdout.String())
	}

	loaded := false
	for _, p := range got.PluginsUsed {
		loaded = loaded || p.Name == pluginClass
	}
	if !loaded {
		t.Fatalf("detect-secrets did not use %s from %s; its output:\n%s", pluginClass, plugin, stdout.String())
	}

	byHash := make(map[string]string, len(keys))
	for key, name := range keys {
		byHash[sha1Hex(key)] = name
	}
	var reported []finding
	for _, f := range got.Results[scanned] {
		if f.Type == secretType {
			reported = append(reported, f)
		}
	}
	for _, f := range reported {
		if f.HashedSecret != sha1Hex(minted) || f.LineNumber != mintedLine {
			name := byHash[f.HashedSecret]
			if name == "" {
				name = "a secret that is none of the test's keys"
			}
			t.Errorf("the plugin reported %s on line %d: only the minted key, on line %d, is well formed", name, f.LineNumber, mintedLine)
		}
	}
	if len(reported) != 1 {
		t.Errorf("the plugin reported %d findings, want exactly 1 (the minted key, line %d); detect-secrets' output:\n%s", len(reported), mintedLine, stdout.String())
	}
}

// TestPluginExpressionMatchesDocs checks that every copy of the expression
// in docs/security.md's section (the stated one, GitHub's, gitleaks') is
// the plugin's, and that it matches a key keygate makes and nothing longer.
func TestPluginExpressionMatchesDocs(t *testing.T) {
	want := pluginPattern(t, readRoot(t, pluginFile))

	doc := readRoot(t, securityDoc)
	start := strings.Index(doc, "\n"+docSection+"\n")
	if start < 0 {
		t.Fatalf("%s has no section %q", securityDoc, docSection)
	}
	section := doc[start+1:]
	if end := strings.Index(section[len(docSection):], "\n## "); end >= 0 {
		section = section[:len(docSection)+end]
	}
	// An expression is whatever follows \bkg_ up to a quote, a backtick or
	// white space: in Markdown code, a TOML literal string or a command.
	found := regexp.MustCompile(`\\bkg_[^\s'"`+"`"+`]*`).FindAllString(section, -1)
	if len(found) == 0 {
		t.Fatalf("%s, section %q, states no expression starting \\bkg_", securityDoc, docSection)
	}
	for _, got := range found {
		if got != want {
			t.Errorf("%s, section %q, states %s; the plugin (%s) uses %s", securityDoc, docSection, got, pluginFile, want)
		}
	}

	re, err := regexp.Compile(want)
	if err != nil {
		t.Fatalf("the plugin's expression %s is not one Go (gitleaks) accepts: %v", want, err)
	}
	key := apikey.Generate()
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"alone", key, key},
		{"in a header", "x-api-key: " + key + "\r\n", key},
		{"quoted", `"` + key + `"`, key},
		{"one character longer", key + "A", ""},
		{"one character shorter", key[:len(key)-1], ""},
		{"inside a word", "A" + key, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := re.FindString(tc.text); got != tc.want {
				t.Errorf("%s finds %q in %q, want %q", want, got, tc.text, tc.want)
			}
		})
	}
}

// pluginPattern returns the expression the plugin file assigns to PATTERN.
func pluginPattern(t *testing.T, src string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^PATTERN = r'([^']*)'$`).FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("%s has no line PATTERN = r'...'", pluginFile)
	}
	return m[1]
}

// alter returns key with the character at i replaced by another
// character of the same alphabet.
func alter(key string, i int) string {
	c := byte('A')
	if key[i] == c {
		c = 'B'
	}
	return key[:i] + string(c) + key[i+1:]
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s)) // detect-secrets' hashed_secret
	return hex.EncodeToString(sum[:])
}

// rootFile returns the path of a file of the repository, given relative
// to its root.
func rootFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

func readRoot(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(rootFile(t, rel))
	if err != nil {
		t.Fatalf("reading %s: %v", rel, err)
	}
	return string(b)
}
