package keyadmin

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/keygate/keygate/internal/apikey"
)

// MaxSecretSize is the most one secret value may hold, in bytes: Secrets
// Manager refuses a longer SecretString ("Secret value size", 64 KB,
// https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html;
// SecretString's maximum length, 65,536, in
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
// keygate checks it before writing, so the operator learns what to do
// instead of reading a ValidationException.
const MaxSecretSize = 65536

// ErrTooLarge: the changed secret would not fit in one secret value.
var ErrTooLarge = errors.New("the secret would be too large")

// checkSize refuses a secret value over MaxSecretSize.
func checkSize(value string) error {
	if len(value) <= MaxSecretSize {
		return nil
	}
	return fmt.Errorf("%w: the secret would be %s bytes, over Secrets Manager's limit of %s: remove clients (`keygate keys revoke`), prefer hash-only entries (the default), or split clients across two stacks. Nothing was written",
		ErrTooLarge, grouped(len(value)), grouped(MaxSecretSize))
}

// entrySize is how many bytes an entry named name takes in an api_keys
// secret as Document.Marshal writes it: its name, the entry and a comma.
func entrySize(name string, e apikey.KeyEntry) int {
	b, err := json.Marshal(map[string]apikey.KeyEntry{name: e})
	if err != nil {
		return 0
	}
	return len(b) - len("{}") + len(",")
}

// room says how full the secret is and how many more entries of size
// entry fit in it.
func room(size, entry int) string {
	more := "no more clients like this one fit"
	if entry > 0 && size < MaxSecretSize {
		switch n := (MaxSecretSize - size) / entry; n {
		case 0:
		case 1:
			more = "1 more client like this one fits"
		default:
			more = "about " + grouped(n) + " more clients like this one fit"
		}
	}
	return fmt.Sprintf("The secret is %s of %s bytes: %s", grouped(size), grouped(MaxSecretSize), more)
}

// grouped writes n with thousands separators: 65,536.
func grouped(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + grouped(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
