package apikey

import (
	"crypto/rand"
	"hash/crc32"
	"strings"
)

// Keys keygate makes have GitHub's token layout (ghp_ + 30 + 6), so that a
// secret scanner can tell a real key from a look-alike without asking
// anyone: the prefix kg_, 30 random base62 characters, and 6 characters of
// checksum, the CRC32 (IEEE) of the 30, in base62 (0-9A-Za-z), most
// significant digit first, padded with 0. Anyone can compute a CRC32: the
// checksum proves a key well formed, not genuine.
const (
	// Prefix starts every key keygate makes.
	Prefix = "kg_"
	// GeneratedLength is the length of a key keygate makes.
	GeneratedLength = len(Prefix) + randomLength + checksumLength

	randomLength   = 30
	checksumLength = 6
)

// base62 is the alphabet of the random part and of the checksum.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// MinKeyLength is the shortest key `keygate keys list` does not warn about:
// a hand-written key much shorter than a generated one may be guessed.
const MinKeyLength = 16

// Generate returns a fresh key: kg_, 30 random characters (about 178 bits
// of entropy) and their checksum. Nothing in it needs escaping in a
// header, a shell or JSON.
func Generate() string {
	out := make([]byte, 0, GeneratedLength)
	out = append(out, Prefix...)
	buf := make([]byte, 64)
	for len(out) < len(Prefix)+randomLength {
		rand.Read(buf) // never fails on supported platforms (Go 1.24+)
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62 keeps every symbol equally likely.
			if b < 248 && len(out) < len(Prefix)+randomLength {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(appendChecksum(out, out[len(Prefix):]))
}

// appendChecksum appends the checksum of random to dst.
func appendChecksum(dst, random []byte) []byte {
	var digits [checksumLength]byte
	n := crc32.ChecksumIEEE(random)
	for i := checksumLength - 1; i >= 0; i-- {
		digits[i] = base62[n%62]
		n /= 62
	}
	return append(dst, digits[:]...)
}

// Minted reports whether key has the form of a key keygate makes (the
// prefix); WellFormed, whether it is one: the right length and alphabet,
// and its checksum matches.
func Minted(key string) bool { return strings.HasPrefix(key, Prefix) }

// WellFormed reports whether key is a well-formed kg_ key (see Generate).
func WellFormed(key string) bool {
	if len(key) != GeneratedLength || !Minted(key) {
		return false
	}
	random := key[len(Prefix) : len(Prefix)+randomLength]
	for i := 0; i < len(random); i++ {
		if strings.IndexByte(base62, random[i]) < 0 {
			return false
		}
	}
	var sum [checksumLength]byte
	return string(appendChecksum(sum[:0], []byte(random))) == key[len(Prefix)+randomLength:]
}
