// Package tree checks what git tracks in keygate's repository: nothing a
// build makes belongs in it, so no tracked file may be an executable
// binary, and none may be larger than 1 MB (the largest text file, the
// Node port's package-lock.json, is about 56 kB).
package tree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxSize is the most a tracked file may hold, in bytes (1 MB).
const maxSize = 1_000_000

// executables are the first bytes that mark a compiled program or object:
// what `file` would call an executable, a shared library or an object file.
// A script's "#!" is not among them: a script is source.
var executables = []struct {
	name  string
	magic []byte
}{
	{"an ELF binary", []byte("\x7fELF")},
	{"a Mach-O binary", []byte{0xfe, 0xed, 0xfa, 0xce}}, // 32-bit, big-endian
	{"a Mach-O binary", []byte{0xfe, 0xed, 0xfa, 0xcf}}, // 64-bit, big-endian
	{"a Mach-O binary", []byte{0xce, 0xfa, 0xed, 0xfe}}, // 32-bit, little-endian
	{"a Mach-O binary", []byte{0xcf, 0xfa, 0xed, 0xfe}}, // 64-bit, little-endian
	// A universal (fat) Mach-O; a Java class file starts the same way,
	// and is as much a build output.
	{"a Mach-O universal binary or Java class", []byte{0xca, 0xfe, 0xba, 0xbe}},
	{"a Mach-O universal binary", []byte{0xca, 0xfe, 0xba, 0xbf}},
	{"a WebAssembly module", []byte("\x00asm")},
}

// headSize is how much of a file the check reads: enough for every magic
// number above and for a DOS header.
const headSize = 64

// tracked returns the files git tracks in dir's repository, relative to
// dir (dir is the top of the work tree: every tracked file).
func tracked(dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var paths []string
	for _, p := range strings.Split(string(out), "\x00") {
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// check returns what is wrong with each of paths (relative to dir): an
// executable binary, or more than maxSize bytes. A path that is not a
// regular file (a symbolic link, a submodule) or is deleted in the work
// tree is passed over: it holds no content of its own here.
func check(dir string, paths []string) ([]string, error) {
	var problems []string
	for _, p := range paths {
		name := filepath.Join(dir, filepath.FromSlash(p))
		info, err := os.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > maxSize {
			problems = append(problems, fmt.Sprintf("%s: %d bytes, more than %d (1 MB): a build output or data that belongs outside git", p, info.Size(), maxSize))
		}
		kind, err := executable(name)
		if err != nil {
			return nil, err
		}
		if kind != "" {
			problems = append(problems, fmt.Sprintf("%s: %s: build outputs stay out of git (make builds them into bin/, which .gitignore holds)", p, kind))
		}
	}
	return problems, nil
}

// executable says what kind of executable the file name is, from its first
// bytes, or "" when it is none.
func executable(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, headSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	head = head[:n]
	for _, e := range executables {
		if bytes.HasPrefix(head, e.magic) {
			return e.name, nil
		}
	}
	// A DOS header ("MZ"), which every PE/COFF program and DLL starts
	// with, holds NUL bytes; a text file that happens to begin "MZ" does
	// not.
	if bytes.HasPrefix(head, []byte("MZ")) && bytes.IndexByte(head, 0) >= 0 {
		return "a PE/COFF (Windows) or DOS binary", nil
	}
	return "", nil
}
