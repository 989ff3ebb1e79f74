package soak

import (
	"math/rand/v2"
	"time"
)

// catalogue is every key the soak has seen, handed out by keygate keys or
// held by a version of the secret (the rotation function's), and which
// the load presents.
type catalogue struct {
	hashes  map[string]string // SHA-256 (hex) → key
	keys    map[string]*known
	all     map[class][]*known
	inForce map[class][]string // in the latest state
}

type known struct {
	key   string
	class class
	// moved is when it last came into or went out of the secret, or is
	// due to expire: the load favours keys around such moments, to
	// measure the windows.
	moved time.Time
}

func newCatalogue() *catalogue {
	return &catalogue{hashes: map[string]string{}, keys: map[string]*known{}, all: map[class][]*known{}, inForce: map[class][]string{}}
}

func (c *catalogue) learn(key string) { c.hashes[sha(key)] = key }

func (c *catalogue) byHash(h string) (string, bool) {
	k, ok := c.hashes[h]
	return k, ok
}

// see records the keys of a new state.
func (c *catalogue) see(s *state) {
	if !s.loadable() {
		return
	}
	clear(c.inForce)
	for _, d := range []doc{s.current, s.previous} {
		for key, e := range d {
			k := c.keys[key]
			if k == nil {
				k = &known{key: key, class: e.class}
				c.keys[key] = k
				c.all[e.class] = append(c.all[e.class], k)
				c.learn(key)
			}
			if !e.expires.IsZero() {
				k.moved = e.expires
			}
			if s.valid(key, s.to) {
				c.inForce[e.class] = append(c.inForce[e.class], key)
			}
		}
	}
}

// moved marks keys whose validity a write changed.
func (c *catalogue) moved(keys []string, at time.Time) {
	for _, key := range keys {
		if k := c.keys[key]; k != nil {
			k.moved = at
		}
	}
}

// pick returns a key of class cl to present: most often one in force,
// often one that came or went in the last 15 seconds, or will (so each
// window is seen in every environment soon after its change), else any it has seen
// (revoked, rotated away long ago, expired).
func (c *catalogue) pick(cl class, r *rand.Rand, now time.Time) string {
	p := r.Float64()
	if keys := c.inForce[cl]; p < 0.45 && len(keys) > 0 {
		return keys[r.IntN(len(keys))]
	}
	all := c.all[cl]
	if len(all) == 0 {
		return ""
	}
	if p < 0.8 {
		var recent []string
		for _, k := range all {
			if d := now.Sub(k.moved); d > -15*time.Second && d < 15*time.Second {
				recent = append(recent, k.key)
			}
		}
		if len(recent) > 0 {
			return recent[r.IntN(len(recent))]
		}
	}
	return all[r.IntN(len(all))].key
}
