package tree

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/internal/repo"
)

// Every file git tracks in this repository: no executable binary, nothing
// over 1 MB.
func TestTrackedFiles(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := tracked(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(paths, "template.yaml") {
		t.Fatalf("git ls-files in %s does not list template.yaml (%d paths): not the repository's top", root, len(paths))
	}
	problems, err := check(root, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The check itself, on a repository made for it: each kind of executable
// and a file over the limit fail it; text, a script, a file of exactly
// the limit and an untracked binary do not.
func TestCheckFindsExecutablesAndLargeFiles(t *testing.T) {
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...)
	dos := append([]byte("MZ\x90\x00\x03"), make([]byte, 59)...)
	files := []struct {
		path    string
		content []byte
		track   bool
		want    string // in the problem reported; "" for none
	}{
		{"bin/api/bootstrap", elf, true, "ELF"},
		{"local", []byte{0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01}, true, "Mach-O"},
		{"keygate.exe", dos, true, "PE/COFF"},
		{"fn.wasm", []byte("\x00asm\x01\x00\x00\x00"), true, "WebAssembly"},
		{"testdata/big.json", bytes.Repeat([]byte("a"), maxSize+1), true, "more than 1000000"},
		{"testdata/limit.json", bytes.Repeat([]byte("a"), maxSize), true, ""},
		{"main.go", []byte("package main\n\nfunc main() {}\n"), true, ""},
		{"run.sh", []byte("#!/bin/sh\necho ok\n"), true, ""},
		{"notes.txt", []byte("MZ is the DOS header's mark.\n"), true, ""},
		{"empty", nil, true, ""},
		{"untracked-binary", elf, false, ""},
	}
	dir := t.TempDir()
	git(t, dir, "init", "--quiet")
	for _, f := range files {
		name := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, f.content, 0o644); err != nil {
			t.Fatal(err)
		}
		if f.track {
			git(t, dir, "add", "--", f.path)
		}
	}
	paths, err := tracked(dir)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := check(dir, paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(f.path, func(t *testing.T) {
			var got []string
			for _, p := range problems {
				if strings.HasPrefix(p, f.path+": ") {
					got = append(got, p)
				}
			}
			switch {
			case f.want == "" && len(got) > 0:
				t.Errorf("reported, want no problem: %q", got)
			case f.want != "" && (len(got) != 1 || !strings.Contains(got[0], f.want)):
				t.Errorf("reported %q, want one problem naming %q", got, f.want)
			}
		})
	}
}

// git runs git in dir, without the machine's or the user's configuration.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
