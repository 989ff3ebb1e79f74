package smfake

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// The character classes of GetRandomPassword, as the API documents them.
const (
	lowercase   = "abcdefghijklmnopqrstuvwxyz"
	uppercase   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numbers     = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

type passwordSpec struct {
	PasswordLength          *int64
	ExcludeCharacters       string
	ExcludeLowercase        bool
	ExcludeUppercase        bool
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	IncludeSpace            bool
	RequireEachIncludedType *bool
}

// generate draws a password from crypto/rand. With RequireEachIncludedType
// (the default) it first draws one character of each included class, then
// the rest from all of them, then shuffles, so every class appears without
// biasing the positions.
func (p passwordSpec) generate() (string, *apiError) {
	length := int64(32)
	if p.PasswordLength != nil {
		length = *p.PasswordLength
	}
	if length < 1 || length > 4096 {
		return "", errorf("InvalidParameterException", "PasswordLength must be between 1 and 4096.")
	}
	keep := func(set string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(p.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, set)
	}
	var classes []string
	for _, c := range []struct {
		set      string
		excluded bool
	}{{lowercase, p.ExcludeLowercase}, {uppercase, p.ExcludeUppercase}, {numbers, p.ExcludeNumbers}, {punctuation, p.ExcludePunctuation}, {" ", !p.IncludeSpace}} {
		if set := keep(c.set); !c.excluded && set != "" {
			classes = append(classes, set)
		}
	}
	all := strings.Join(classes, "")
	if all == "" {
		return "", errorf("InvalidParameterException", "The password can't contain any characters: every character type is excluded.")
	}
	require := p.RequireEachIncludedType == nil || *p.RequireEachIncludedType
	if require && int64(len(classes)) > length {
		return "", errorf("InvalidParameterException", "The password length is too short to include a character of each included type.")
	}
	out := make([]byte, 0, length)
	if require {
		for _, c := range classes {
			out = append(out, c[randInt(len(c))])
		}
	}
	for int64(len(out)) < length {
		out = append(out, all[randInt(len(all))])
	}
	for i := len(out) - 1; i > 0; i-- {
		j := randInt(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("smfake: crypto/rand failed: " + err.Error()) // never happens since Go 1.24
	}
	return int(v.Int64())
}
