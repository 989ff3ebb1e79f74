package keyadmin

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/config"
	"github.com/keygate/keygate/internal/keycache"
)

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:          "24h",
		5 * time.Minute:         "5m",
		30 * time.Second:        "30s",
		90 * time.Minute:        "1h30m",
		time.Hour + time.Second: "1h0m1s",
		1500 * time.Millisecond: "1.5s",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}

// The figures of the help and of the message after a new key are the
// function's own defaults, not copies of them.
func TestUsageFigures(t *testing.T) {
	help := strings.Join(strings.Fields(Usage()), " ")
	for _, want := range []string{
		"at most once every " + short(keycache.DefaultMissInterval),
		"--grace (default " + short(config.DefaultGrace) + ";",
		"KEY_REFRESH, " + short(config.DefaultRefresh) + " by default",
		"the function's default, " + short(config.DefaultGrace),
		"limit of " + grouped(MaxSecretSize) + " bytes",
		"--since (default " + short(DefaultSince) + ")",
		"Insights (default " + short(DefaultWait) + ")",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, p := range []string{"{grace}", "{refresh}", "{miss}", "{limit}", "{since}", "{wait}"} {
		if strings.Contains(help, p) {
			t.Errorf("help holds the placeholder %s", p)
		}
	}
	if !strings.Contains(shownOnce(), "at most once every "+short(keycache.DefaultMissInterval)+";") {
		t.Errorf("shownOnce: %s", shownOnce())
	}
}
