package samcheck

import (
	"debug/elf"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/test/internal/repo"
)

// A cfn-lint finding (E error, W warning, I informational), as in
// "W3005 ..." or "[[W3005: ...".
var lintFinding = regexp.MustCompile(`\b[EWI]\d{4}\b`)

// `sam validate --lint`, as a user runs it: no error, no warning.
func TestSAMValidateLint(t *testing.T) {
	out := run(t, 2*time.Minute, nil, "sam", "validate", "--lint", "--template", "template.yaml")
	if !strings.Contains(out, "is a valid SAM Template") {
		t.Errorf("sam validate --lint did not report a valid template:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		l := strings.ToLower(line)
		if lintFinding.MatchString(line) || strings.Contains(l, "warning") || strings.Contains(l, "error") {
			t.Errorf("sam validate --lint: %s", line)
		}
	}
}

// cfn-lint on its own, informational rules included: nothing to report.
func TestCfnLint(t *testing.T) {
	out, err := runErr(t, 2*time.Minute, nil, "cfn-lint", "--format", "parseable", "--include-checks", "I", "--", "template.yaml")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// `sam build` as a user runs it (samconfig.toml applies), into a temporary
// directory, with no Docker: every function gets a static arm64 bootstrap,
// built in the source tree (no copy of .venv and .git to a scratch
// directory).
func TestSAMBuild(t *testing.T) {
	dir := t.TempDir()
	out := run(t, 10*time.Minute, nil, "sam", "build", "--template", "template.yaml", "--build-dir", dir)
	if !strings.Contains(out, "Build Succeeded") {
		t.Errorf("sam build did not succeed:\n%s", out)
	}
	// Without build_in_source, SAM first copies CodeUri (the repository
	// root) to a scratch directory: its CopySource step.
	if strings.Contains(out, "CopySource") {
		t.Errorf("sam build copied the source tree; samconfig.toml must keep build_in_source = true:\n%s", out)
	}
	for _, fn := range []string{apiFunction, rotationFunction} {
		if !strings.Contains(out, fn+": Running CustomMakeBuilder:MakeBuild") {
			t.Errorf("sam build did not run the Makefile for %s:\n%s", fn, out)
		}
		checkStaticARM64(t, filepath.Join(dir, fn, "bootstrap"))
	}
	entries, err := os.ReadDir(filepath.Join(dir, apiFunction))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"bootstrap"}) {
		t.Errorf("the %s artifact holds %v, want only bootstrap", apiFunction, names)
	}
}

// checkStaticARM64 checks that path is a statically linked ELF executable
// for aarch64, what provided.al2023 on arm64 runs.
func checkStaticARM64(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s: %v %v %v, want ELFCLASS64 EM_AARCH64 ET_EXEC", path, f.Class, f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: it is dynamically linked", path, p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v)", path, libs, err)
	}
}

// The template as CloudFormation sees it after the SAM transform: SAM
// applies the Globals to each function, puts the throttling on the Prod
// stage of the REST API, gives API Gateway a permission per route, and
// creates no role of its own (its default one would allow logs on *).
func TestSAMTranslation(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "test", "samcheck", "testdata", "translate.py")
	file := filepath.Join(t.TempDir(), "translated.json")
	run(t, 2*time.Minute, nil, "python", script, "template.yaml", file)

	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := loadStack(t, file, sc.params)
			e := sc.expect(t)
			fns := map[string]string{apiFunction: "KeygateFunctionRole"}
			if e.rotation > 0 {
				fns[rotationFunction] = "KeygateRotationFunctionRole"
			}
			if got := s.resourcesOfType("AWS::Lambda::Function"); !reflect.DeepEqual(got, keys(fns)) {
				t.Errorf("functions %v, want %v", got, keys(fns))
			}
			var roles []string
			for fnName, role := range fns {
				roles = append(roles, role)
				f, err := s.tpl.GetLambdaFunctionWithName(fnName)
				if err != nil {
					t.Fatal(err)
				}
				if f.Runtime == nil || *f.Runtime != "provided.al2023" || f.Handler == nil || *f.Handler != "bootstrap" ||
					!reflect.DeepEqual(f.Architectures, []string{"arm64"}) || f.MemorySize == nil || *f.MemorySize > 128 ||
					f.Timeout == nil || f.LoggingConfig == nil || f.LoggingConfig.LogFormat == nil || *f.LoggingConfig.LogFormat != "JSON" {
					t.Errorf("%s after the transform: runtime %v handler %v arch %v memory %v timeout %v logging %+v",
						fnName, f.Runtime, f.Handler, f.Architectures, f.MemorySize, f.Timeout, f.LoggingConfig)
				}
				if f.Role != getAtt(role+".Arn") {
					t.Errorf("%s runs as %s, want %s", fnName, f.Role, role)
				}
			}
			sort.Strings(roles)
			if got := s.resourcesOfType("AWS::IAM::Role"); !reflect.DeepEqual(got, roles) {
				t.Errorf("roles %v, want only %v", got, roles)
			}

			stages := []string{"ServerlessRestApiProdStage"}
			if e.backend != "" {
				stages = []string{"GuardedApiStage", "ServerlessRestApiProdStage"} // the guarded API's Prod
			}
			if got := s.resourcesOfType("AWS::ApiGateway::Stage"); !reflect.DeepEqual(got, stages) {
				t.Errorf("REST API stages %v, want only %v", got, stages)
			}
			// A StageName on the deployment would create a second,
			// unthrottled stage ("Stage"): OpenApiVersion avoids it.
			for _, name := range s.resourcesOfType("AWS::ApiGateway::Deployment") {
				if sn, ok := s.props(t, name)["StageName"]; ok {
					t.Errorf("%s creates the extra stage %v, which is not throttled", name, sn)
				}
			}
			rate, burst := throttling(t, sc)
			for _, stage := range stages {
				ms := at(s.props(t, stage), "MethodSettings")
				if m := asList(ms); len(m) != 1 || at(m[0], "ResourcePath") != "/*" || at(m[0], "HttpMethod") != "*" ||
					at(m[0], "ThrottlingRateLimit") != rate || at(m[0], "ThrottlingBurstLimit") != burst {
					t.Errorf("%s MethodSettings %v, want every method throttled at %v burst %v", stage, ms, rate, burst)
				}
			}

			apiPerms := 0
			for _, name := range s.resourcesOfType("AWS::Lambda::Permission") {
				p := s.props(t, name)
				if p["Principal"] == "apigateway.amazonaws.com" && p["FunctionName"] == ref(apiFunction) {
					apiPerms++
					if arn, _ := p["SourceArn"].(string); !strings.Contains(arn, ref("ServerlessRestApi")+"/") {
						t.Errorf("%s: SourceArn %q, want limited to the REST API", name, arn)
					}
				}
			}
			if apiPerms != 3 {
				t.Errorf("%d API Gateway permissions on the REST API, want one per route (3)", apiPerms)
			}

			// The monitoring resources pass the transform as they are, and
			// the functions their alarms watch are the ones SAM made.
			if got := s.resourcesOfType("AWS::CloudWatch::Alarm"); !reflect.DeepEqual(got, keys(e.alarms())) {
				t.Errorf("alarms after the transform %v, want %v", got, keys(e.alarms()))
			}
			for _, name := range s.resourcesOfType("AWS::CloudWatch::Alarm") {
				for _, d := range asList(s.props(t, name)["Dimensions"]) {
					if v := scalar(at(d, "Value")); at(d, "Name") == "FunctionName" && (!strings.HasPrefix(v, "Ref(") || fns[strings.TrimSuffix(strings.TrimPrefix(v, "Ref("), ")")] == "") {
						t.Errorf("%s watches %s, which is not a function of the translated stack %v", name, v, keys(fns))
					}
				}
			}
			for _, typ := range []string{"AWS::CloudWatch::Dashboard", "AWS::CloudWatch::InsightRule"} {
				if len(s.resourcesOfType(typ)) == 0 {
					t.Errorf("no %s after the transform", typ)
				}
			}
		})
	}
}
