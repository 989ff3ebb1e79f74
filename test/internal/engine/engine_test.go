package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The stand-in's /bin/sh runs the RUN lines SAM CLI's Dockerfile has, and
// refuses anything else by name.
func TestStandInShell(t *testing.T) {
	bin, err := buildShell(context.Background(), Native())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sh := filepath.Join(dir, "sh")
	if err := os.WriteFile(sh, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	rapid := filepath.Join(dir, "var", "rapid")
	layer := filepath.Join(dir, "tmp", "layer1")
	for _, d := range []string{rapid, filepath.Join(layer, "bin"), filepath.Join(dir, "opt")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range map[string]string{
		filepath.Join(rapid, "aws-lambda-rie-arm64"): "emulator",
		filepath.Join(layer, "bin", "tool"):          "tool",
	} {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(script string) (string, error) {
		out, err := exec.Command(sh, "-c", script).CombinedOutput()
		return string(out), err
	}
	rie := filepath.Join(rapid, "aws-lambda-rie")
	if out, err := run(fmt.Sprintf("mv %s/aws-lambda-rie-arm64 %s && chmod +x %s", rapid, rie, rie)); err != nil {
		t.Fatalf("SAM's RUN line: %v: %s", err, out)
	}
	if st, err := os.Stat(rie); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("after mv and chmod +x: %v %v, want mode 0755", st, err)
	}
	if out, err := run(fmt.Sprintf("cp -rf %s/. %s/ && rm -rf %s", layer, filepath.Join(dir, "opt"), layer)); err != nil {
		t.Fatalf("SAM's layer RUN line: %v: %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "opt", "bin", "tool")); err != nil || string(b) != "tool" {
		t.Errorf("the layer was not copied into /opt: %q %v", b, err)
	}
	if _, err := os.Stat(layer); !os.IsNotExist(err) {
		t.Errorf("rm -rf left %s: %v", layer, err)
	}
	for _, script := range []string{"echo hi", "mv a b; rm -rf /", "chmod u+x " + rie, "mv $(x) y"} {
		out, err := run(script)
		if err == nil || !strings.Contains(out, "keygate stand-in /bin/sh:") {
			t.Errorf("sh -c %q: %v %q, want a refusal", script, err, out)
		}
	}
}

// The stand-in archive names the tag, the architecture SAM asks for, and
// a layer with Lambda's directories and the shell.
func TestStandInArchive(t *testing.T) {
	layer, err := standInLayer([]byte("#!shell"))
	if err != nil {
		t.Fatal(err)
	}
	archive, err := imageArchive(ARM64, layer)
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, archive)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	m := manifest[0]
	if len(m.RepoTags) != 1 || m.RepoTags[0] != "public.ecr.aws/lambda/provided:al2023-arm64" {
		t.Errorf("tags %v", m.RepoTags)
	}
	var cfg struct {
		Architecture, Variant, OS string
		Config                    struct{ WorkingDir string }
		Rootfs                    struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.Variant != "v8" || cfg.OS != "linux" || cfg.Config.WorkingDir != "/var/task" {
		t.Errorf("config %+v, want linux/arm64/v8 in /var/task", cfg)
	}
	if fmt.Sprintf("%x.json", sha256.Sum256(files[m.Config])) != m.Config {
		t.Errorf("config %s is not named by its digest", m.Config)
	}
	if len(m.Layers) != 1 || len(cfg.Rootfs.DiffIDs) != 1 || cfg.Rootfs.DiffIDs[0] != fmt.Sprintf("sha256:%x", sha256.Sum256(files[m.Layers[0]])) {
		t.Errorf("layers %v, diff IDs %v: the layer's digest does not match", m.Layers, cfg.Rootfs.DiffIDs)
	}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(files[m.Layers[0]]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
	}
	for name, mode := range map[string]int64{"bin/sh": 0o755, "tmp/": 0o1777, "var/task/": 0o755, "var/rapid/": 0o755, "opt/": 0o755, "etc/passwd": 0o644} {
		if got, ok := modes[name]; !ok || got != mode {
			t.Errorf("layer: %s mode %o (present %v), want %o", name, got, ok, mode)
		}
	}
}

func untar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = body
		}
	}
}
