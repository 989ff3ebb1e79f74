package proof

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/testsupport/doortest"

	"github.com/keygate/keygate/internal/decision"
	"github.com/keygate/keygate/internal/frontdoor"
)

// refusals are the ways a request can fail authentication, and the
// outcome the log records for each. Callers must not be able to tell them
// apart.
var refusals = []struct {
	p       presented
	path    string
	outcome string
}{
	{presentMissing, "", "missing"},
	{presentWrong, "", "invalid"},
	{presentAmbiguous, "", "ambiguous"},
	{presentExpired, "", "expired"},
	{presentWrong, "/elsewhere", "invalid"},
	{presentMissing, "/elsewhere", "missing"},
}

// lastOutcome is the outcome of the last log line.
func lastOutcome(t *testing.T, logs string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	var rec struct {
		Msg     string `json:"msg"`
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil || rec.Msg != "request" {
		t.Fatalf("last log line is not a request record: %q", lines[len(lines)-1])
	}
	return rec.Outcome
}

// Every answer of every front door carries the security headers and a
// fixed body; every 401 is the same answer, whatever the reason, while
// the log tells the reasons apart.
func TestResponseHygiene(t *testing.T) {
	ctx := context.Background()
	s := newStack(t, "KEY_GRACE=0s")
	s.srv.Put(secretID, secretFor(t, keyA))
	if err := s.cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ad := frontdoor.New(decision.New(s.cache), s.log)
	down := newStack(t) // its secret does not exist: 503
	if err := down.cache.Load(ctx); err == nil {
		t.Fatal("a load of a missing secret succeeded")
	}
	adDown := frontdoor.New(decision.New(down.cache), down.log)

	invoke := func(t *testing.T, ad *frontdoor.Adapter, payload []byte) doortest.Answer {
		t.Helper()
		out, err := ad.Invoke(ctx, payload)
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		return doortest.Decode(t, out)
	}
	for _, d := range doors(t) {
		t.Run(d.name, func(t *testing.T) {
			for _, c := range []struct {
				name         string
				ad           *frontdoor.Adapter
				p            presented
				method, path string
				status       int
			}{
				{"authorized", ad, presentA, "", "", http.StatusOK},
				{"HEAD", ad, presentA, http.MethodHead, "", http.StatusOK},
				{"unknown path", ad, presentA, "", "/elsewhere", http.StatusNotFound},
				{"POST", ad, presentA, http.MethodPost, "", http.StatusMethodNotAllowed},
				{"store down, right key", adDown, presentA, "", "", http.StatusServiceUnavailable},
				{"store down, no key", adDown, presentMissing, "", "", http.StatusServiceUnavailable},
				{"malformed request line", ad, presentA, "G T", "", http.StatusBadRequest},
			} {
				a := invoke(t, c.ad, d.event(t, c.p, c.method, c.path))
				if a.StatusCode != c.status {
					t.Errorf("%s: %d, want %d", c.name, a.StatusCode, c.status)
				}
				doortest.CheckHygiene(t, a.StatusCode, a.Merged(), a.Body, c.method == http.MethodHead)
				if c.status == http.StatusMethodNotAllowed && a.Merged().Get("Allow") != "GET, HEAD" {
					t.Errorf("405 without Allow: GET, HEAD")
				}
			}

			var first doortest.Answer
			outcomes := map[string]bool{}
			for i, r := range refusals {
				a := invoke(t, ad, d.event(t, r.p, "", r.path))
				if a.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s at %q: %d, want 401", r.p.name, or(r.path, "/"), a.StatusCode)
				}
				doortest.CheckHygiene(t, a.StatusCode, a.Merged(), a.Body, false)
				if got := lastOutcome(t, s.logs.String()); got != r.outcome {
					t.Errorf("%s: logged outcome %q, want %q", r.p.name, got, r.outcome)
				}
				outcomes[r.outcome] = true
				if i == 0 {
					first = a
					continue
				}
				if a.Body != first.Body || !reflect.DeepEqual(a.Merged(), first.Merged()) {
					t.Errorf("the 401 for %s at %q differs from the one for %s:\n%s\n%s",
						r.p.name, or(r.path, "/"), refusals[0].p.name, a.Raw, first.Raw)
				}
			}
			if len(outcomes) != 4 {
				t.Errorf("the log told %d reasons apart, want 4: %v", len(outcomes), slices.Sorted(maps.Keys(outcomes)))
			}
		})
	}
}

// The same over HTTP, through the local server: the 401s are byte for
// byte the same apart from the per-response Date and X-Request-Id.
func TestResponseHygieneLocalServer(t *testing.T) {
	s := newStack(t, "KEY_GRACE=0s")
	s.srv.Put(secretID, secretFor(t, keyA))
	if err := s.cache.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := s.listen(t)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	get := func(p presented, path string) (http.Header, string, int) {
		req, err := http.NewRequest(http.MethodGet, base+or(path, "/"), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range p.keys {
			req.Header.Add("X-Api-Key", k)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		h := res.Header.Clone()
		h.Del("Date")
		h.Del("X-Request-Id")
		return h, string(body), res.StatusCode
	}

	h, body, status := get(presentA, "")
	if status != http.StatusOK {
		t.Fatalf("right key: %d", status)
	}
	doortest.CheckHygiene(t, status, h, body, false)
	var firstH http.Header
	var firstBody string
	for i, r := range refusals {
		h, body, status := get(r.p, r.path)
		if status != http.StatusUnauthorized {
			t.Fatalf("%s: %d, want 401", r.p.name, status)
		}
		doortest.CheckHygiene(t, status, h, body, false)
		if got := lastOutcome(t, s.logs.String()); got != r.outcome {
			t.Errorf("%s: logged outcome %q, want %q", r.p.name, got, r.outcome)
		}
		if i == 0 {
			firstH, firstBody = h, body
		} else if body != firstBody || !reflect.DeepEqual(h, firstH) {
			t.Errorf("the 401 for %s differs: %v %q, first %v %q", r.p.name, h, body, firstH, firstBody)
		}
	}
}
