// Package scanner checks that the secret scanner keygate documents finds
// the keys keygate makes and only those (test files only): the real
// detect-secrets, from the project's virtual environment (`make venv`),
// runs with the plugin users copy from docs/scanning/, and the plugin's
// regular expression is the one docs/security.md states. Its tests fail,
// never skip, without the venv.
package scanner
