package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/keygate/keygate/test/internal/repo"
)

// BaseRepo is the repository of the Lambda base images SAM CLI runs
// provided.al2023 functions on; the tag is al2023-<architecture>.
const BaseRepo = "public.ecr.aws/lambda/provided"

// StandInLabel marks the stand-in images this package builds.
const StandInLabel = "org.keygate.stand-in"

// Arch is a Lambda architecture: arm64 or x86_64.
type Arch string

// The two Lambda architectures.
const (
	ARM64 Arch = "arm64"
	X8664 Arch = "x86_64"
)

// Native is the Lambda architecture of this machine.
func Native() Arch {
	if runtime.GOARCH == "arm64" {
		return ARM64
	}
	return X8664
}

// GOARCH is Go's name for the architecture.
func (a Arch) GOARCH() string {
	if a == ARM64 {
		return "arm64"
	}
	return "amd64"
}

// Platform is the image platform, linux/arm64 or linux/amd64.
func (a Arch) Platform() string { return "linux/" + a.GOARCH() }

// BaseImage is the base image SAM wants for a, with its tag.
func (a Arch) BaseImage() string { return BaseRepo + ":al2023-" + string(a) }

// ParseArch accepts arm64 and x86_64 (and Go's amd64).
func ParseArch(s string) (Arch, error) {
	switch s {
	case "arm64":
		return ARM64, nil
	case "x86_64", "amd64":
		return X8664, nil
	}
	return "", fmt.Errorf("architecture %q: want arm64 or x86_64", s)
}

// Policy says how EnsureBaseImage gets an image.
type Policy int

const (
	// LocalFirst uses a local image of the right platform as it is, and
	// pulls (then builds the stand-in) only without one: the tests, fast
	// and offline.
	LocalFirst Policy = iota
	// PullFirst pulls first, so a user with a registry gets the current
	// image; a local one serves when the pull fails, and the stand-in
	// when there is none.
	PullFirst
)

// EnsureBaseImage makes a's base image available to the engine and says
// where it came from. The callers then run sam local with
// --skip-pull-image: SAM CLI otherwise asks the registry even for a local
// image, and stops when it cannot reach it.
func (c *Client) EnsureBaseImage(ctx context.Context, logf Logf, a Arch, policy Policy) error {
	ref := a.BaseImage()
	info, found, err := c.Image(ctx, ref)
	if err != nil {
		return err
	}
	usable := found && info.Platform() == a.Platform()
	if found && !usable {
		logf("%s is here with platform %s, not %s: replacing it", ref, info.Platform(), a.Platform())
	}
	describe := func() string {
		if info.Labels[StandInLabel] != "" {
			return "keygate's local stand-in"
		}
		return "as pulled"
	}
	if usable && policy == LocalFirst {
		logf("%s: present (%s, %s)", ref, a.Platform(), describe())
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	start := time.Now()
	perr := c.Pull(pctx, BaseRepo, "al2023-"+string(a), a.Platform())
	cancel()
	if perr == nil {
		logf("%s: pulled (%s) in %s", ref, a.Platform(), time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	if usable {
		logf("%s: cannot pull it (%v); using the local one (%s)", ref, oneLine(perr), describe())
		return nil
	}
	logf("%s: cannot pull it (%v); building a local stand-in", ref, oneLine(perr))
	return c.BuildStandIn(ctx, logf, a)
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// BuildStandIn loads a stand-in for a's base image under its tag: one
// layer with Lambda's directories, a few files of /etc, and a /bin/sh (the
// Go program in package sh, for a's architecture) that runs the RUN lines
// of SAM CLI's emulation image. keygate's bootstrap is static and needs
// nothing else. The image config names a's platform (an engine importing
// a tarball would record its own).
func (c *Client) BuildStandIn(ctx context.Context, logf Logf, a Arch) error {
	start := time.Now()
	sh, err := buildShell(ctx, a)
	if err != nil {
		return err
	}
	layer, err := standInLayer(sh)
	if err != nil {
		return err
	}
	archive, err := imageArchive(a, layer)
	if err != nil {
		return err
	}
	if err := c.Load(ctx, archive); err != nil {
		return fmt.Errorf("loading the stand-in %s: %w", a.BaseImage(), err)
	}
	info, found, err := c.Image(ctx, a.BaseImage())
	if err != nil {
		return err
	}
	if !found || info.Platform() != a.Platform() {
		return fmt.Errorf("loaded the stand-in %s, but the engine shows it as %q (found %v)", a.BaseImage(), info.Platform(), found)
	}
	logf("%s: built and loaded the stand-in (%s, %d KB) in %s", a.BaseImage(), a.Platform(), len(archive)>>10, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// buildShell cross-compiles package sh for a.
func buildShell(ctx context.Context, a Arch) ([]byte, error) {
	dir, rel, err := repo.GoPackage("./test/internal/engine/sh")
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "keygate-sh-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "sh")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, rel)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.GOARCH())
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the stand-in's /bin/sh: %v\n%s", err, b)
	}
	return os.ReadFile(out)
}

// standInLayer is the stand-in's file system, as an uncompressed tar.
func standInLayer(sh []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	// Lambda's layout: /var/task (the code), /var/runtime, /opt (layers),
	// /var/rapid (where SAM adds the emulator), /tmp.
	for _, d := range []string{"bin", "dev", "etc", "home", "opt", "opt/extensions", "proc", "root", "sys", "usr", "usr/bin", "usr/lib", "var", "var/lang", "var/lang/bin", "var/rapid", "var/runtime", "var/task"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	files := []struct {
		name string
		mode int64
		body string
	}{
		{"etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"},
		{"etc/group", 0o644, "root:x:0:\nsbx_user1051:x:990:\nnobody:x:65534:\n"},
		{"etc/nsswitch.conf", 0o644, "hosts: files dns\n"},
		{"etc/os-release", 0o644, "NAME=\"keygate stand-in for provided:al2023\"\nID=keygate-stand-in\n"},
		{"etc/localtime", 0o644, ""},
	}
	for _, f := range files {
		if err := file(f.name, f.mode, []byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := file("bin/sh", 0o755, sh); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// imageArchive is a `docker save` archive of one image: the layer, its
// config (platform, environment and working directory of the real base
// image) and the manifest naming a's tag.
func imageArchive(a Arch, layer []byte) ([]byte, error) {
	layerSum := fmt.Sprintf("%x", sha256.Sum256(layer))
	created := "2023-11-01T00:00:00Z"
	cfg := map[string]any{
		"architecture": a.GOARCH(),
		"os":           "linux",
		"created":      created,
		"config": map[string]any{
			"Env": []string{
				"LANG=en_US.UTF-8",
				"TZ=:/etc/localtime",
				"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
				"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
				"LAMBDA_TASK_ROOT=/var/task",
				"LAMBDA_RUNTIME_DIR=/var/runtime",
			},
			"WorkingDir": "/var/task",
			"Entrypoint": []string{"/bin/sh"},
			"Labels": map[string]string{
				StandInLabel: "a local stand-in for " + a.BaseImage() + " (no registry was reachable); see test/internal/engine",
			},
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerSum}},
		"history": []map[string]string{{
			"created":    created,
			"created_by": "keygate test/internal/engine: stand-in for " + a.BaseImage(),
		}},
	}
	if a == ARM64 {
		cfg["variant"] = "v8"
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(cfgJSON))
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   cfgName,
		"RepoTags": []string{a.BaseImage()},
		"Layers":   []string{layerSum + "/layer.tar"},
	}})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []struct {
		name string
		body []byte
	}{
		{layerSum + "/layer.tar", layer},
		{cfgName, cfgJSON},
		{"manifest.json", manifest},
	} {
		if strings.Contains(f.name, "/") {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.Dir(f.name) + "/", Mode: 0o755, ModTime: mtime}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
