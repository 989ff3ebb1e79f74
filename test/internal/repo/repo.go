// Package repo finds the keygate checkout the harness runs in: the product
// module's root (where template.yaml, events/ and the Makefile are) and the
// tools the Makefile installs into it.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Root returns the product's root directory: the nearest directory above
// the working directory (a package directory under `go test`) that holds
// both go.mod and template.yaml. The harness's own go.mod, in test/, has no
// template beside it.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if isRoot(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no directory above the working directory holds go.mod and template.yaml")
		}
		dir = parent
	}
}

func isRoot(dir string) bool {
	for _, f := range []string{"go.mod", "template.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// Tool returns the path of a program in the project's virtual environment
// (.venv/bin/name), or an error that says how to install it. Tests that
// need one fail with that error; they never skip.
func Tool(name string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, ".venv", "bin", name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found (%v): run make venv", path, err)
	}
	return path, nil
}

// GoPackage returns where to run `go build` for pkg, a path relative to the
// repository root ("./cmd/api", "./test/bench/hello", or a module path such
// as a tool's), and pkg as seen from there: the harness's own packages and
// tools belong to the module in test/, the product's to the root module.
func GoPackage(pkg string) (dir, rel string, err error) {
	root, err := Root()
	if err != nil {
		return "", "", err
	}
	switch {
	case strings.HasPrefix(pkg, "./test/"):
		return filepath.Join(root, "test"), "./" + strings.TrimPrefix(pkg, "./test/"), nil
	case strings.HasPrefix(pkg, "./"):
		return root, pkg, nil
	}
	return filepath.Join(root, "test"), pkg, nil // a dependency: test/go.mod pins the tools
}
