// Package samcheck checks keygate's deployment files with the tools users
// run: template.yaml (parsed as a SAM template, through `sam validate
// --lint`, cfn-lint and `sam build`) and the sample events in events/
// (against `sam local generate-event`). Its tests need the project's
// virtual environment (`make venv`); they fail, never skip, without it.
package samcheck
