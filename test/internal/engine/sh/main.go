// Command sh is the /bin/sh of the stand-in Lambda base image (package
// engine): SAM CLI builds its emulation image on top of the base image
// with a Dockerfile whose RUN lines are, for a function without layers,
//
//	mv /var/rapid/aws-lambda-rie-arm64 /var/rapid/aws-lambda-rie && chmod +x /var/rapid/aws-lambda-rie
//
// and, per layer, `cp -rf SRC/. DST/ && rm -rf SRC`. It runs exactly such
// lines (`sh -c "CMD && CMD ..."` with mv, chmod, cp -rf, rm -rf, mkdir -p,
// true) and refuses anything else by name, so a change in SAM's Dockerfile
// shows up as a clear build error rather than a wrong image. It is a
// static Go program, cross-compiled for the image's architecture, so the
// stand-in needs no distribution package.
package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "-c" {
		fail("usage: sh -c 'COMMAND [&& COMMAND ...]' (the stand-in base image's shell runs only SAM's RUN lines)")
	}
	for _, part := range strings.Split(os.Args[2], "&&") {
		if strings.ContainsAny(part, "'\"`$;|<>*?\\") {
			fail(fmt.Sprintf("unsupported shell syntax in %q", strings.TrimSpace(part)))
		}
		f := strings.Fields(part)
		if len(f) == 0 {
			fail("empty command in " + os.Args[2])
		}
		if err := run(f[0], f[1:]); err != nil {
			fail(fmt.Sprintf("%s: %v", strings.Join(f, " "), err))
		}
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "keygate stand-in /bin/sh:", msg)
	os.Exit(2)
}

func run(name string, args []string) error {
	switch name {
	case "true":
		return nil
	case "mv":
		if len(args) != 2 {
			return fmt.Errorf("want mv SRC DST")
		}
		dst := args[1]
		if st, err := os.Stat(dst); err == nil && st.IsDir() {
			dst = filepath.Join(dst, filepath.Base(args[0]))
		}
		return os.Rename(args[0], dst)
	case "chmod":
		if len(args) < 2 {
			return fmt.Errorf("want chmod MODE FILE...")
		}
		for _, p := range args[1:] {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			mode := st.Mode().Perm()
			switch m := args[0]; {
			case m == "+x":
				mode |= 0o111
			case strings.Trim(m, "01234567") == "":
				v, err := strconv.ParseUint(m, 8, 32)
				if err != nil {
					return err
				}
				mode = fs.FileMode(v)
			default:
				return fmt.Errorf("unsupported mode %q", m)
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
		}
		return nil
	case "mkdir":
		if len(args) < 2 || args[0] != "-p" {
			return fmt.Errorf("want mkdir -p DIR...")
		}
		for _, d := range args[1:] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		return nil
	case "rm":
		if len(args) < 2 || args[0] != "-rf" {
			return fmt.Errorf("want rm -rf PATH...")
		}
		for _, p := range args[1:] {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
		return nil
	case "cp":
		if len(args) != 3 || args[0] != "-rf" {
			return fmt.Errorf("want cp -rf SRC DST")
		}
		return copyTree(args[1], args[2])
	}
	return fmt.Errorf("unsupported command %q", name)
}

// copyTree copies src into dst as `cp -rf src/. dst/` does: the contents
// of src, merged into dst, files overwritten.
func copyTree(src, dst string) error {
	src = strings.TrimSuffix(filepath.Clean(src), "/.")
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			_ = os.Remove(target)
			return os.Symlink(link, target)
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, info.Mode().Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
	})
}
