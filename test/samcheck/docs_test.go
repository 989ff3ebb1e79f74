package samcheck

import (
	"regexp"
	"strings"
	"testing"
)

// The documents a deployer and an operator read keep up with the
// template: docs/deploying.md's table has a row for every parameter, and
// docs/operating.md's Alarms section an entry for every alarm the alarm
// descriptions point to.
func TestDocs(t *testing.T) {
	s := loadStack(t, templatePath(t), map[string]string{"RotationDays": "7"})
	deploying := readRepoFile(t, "docs/deploying.md")
	for name := range s.params {
		if !regexp.MustCompile("(?m)^\\| `" + name + "` \\|").MatchString(deploying) {
			t.Errorf("docs/deploying.md's parameter table has no row for %s", name)
		}
	}

	operating := readRepoFile(t, "docs/operating.md")
	_, alarms, ok := strings.Cut(operating, "\n## Alarms\n")
	if !ok {
		t.Fatal("docs/operating.md has no section ## Alarms")
	}
	if i := strings.Index(alarms, "\n## "); i >= 0 {
		alarms = alarms[:i]
	}
	for _, a := range alarmEntries {
		if !strings.Contains(alarms, "\n### "+a.entry+"\n") {
			t.Errorf("docs/operating.md's Alarms section has no entry ### %s (the runbook %s's description points to)", a.entry, a.logical)
		}
	}
}
