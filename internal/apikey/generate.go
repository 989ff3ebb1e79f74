package apikey

import "crypto/rand"

// GeneratedLength matches the template's GenerateSecretString, so keys made
// by CloudFormation, the rotation function and the CLI look alike.
const GeneratedLength = 40

// MinKeyLength is the shortest key `keygate keys list` does not warn about:
// a hand-written key much shorter than a generated one may be guessed.
const MinKeyLength = 16

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Generate returns a fresh random key of letters and digits (about 238 bits
// of entropy): nothing in it needs escaping in a header, a shell or JSON.
func Generate() string {
	out := make([]byte, 0, GeneratedLength)
	buf := make([]byte, 64)
	for len(out) < GeneratedLength {
		rand.Read(buf) // never fails on supported platforms (Go 1.24+)
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62 keeps every symbol equally likely.
			if b < 248 && len(out) < GeneratedLength {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out)
}
