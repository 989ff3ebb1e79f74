package samcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// A stack as CloudFormation would create it from template.yaml for one set
// of parameter values: goformation parses the template with intrinsic
// handlers that resolve parameters and conditions the way CloudFormation
// does, and leave references to resources readable, as "Ref(Name)" and
// "GetAtt(Name.Attribute)". (goformation's own handlers resolve a Ref to a
// resource to nothing, and its condition evaluation replaces every resource
// that has a Condition by a bool.)
type stack struct {
	tpl    *cloudformation.Template // typed, as goformation parses it
	doc    map[string]any           // the same, untyped, for properties goformation's types lack
	params map[string]string
	conds  map[string]bool
}

// Pseudo parameters, as in us-east-1 for a stack named keygate.
var pseudo = map[string]any{
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::Region":    "us-east-1",
	"AWS::StackName": "keygate",
	"AWS::URLSuffix": "amazonaws.com",
	"AWS::NoValue":   nil,
}

// Properties newer than goformation v7.14.9, by resource type.
var newerThanGoformation = map[string][]string{
	// October 2025: a public Function URL also needs lambda:InvokeFunction,
	// limited to calls through the URL.
	"AWS::Lambda::Permission": {"InvokedViaFunctionUrl"},
}

// Resources SAM creates from the template that it can refer to.
var samImplicit = []string{"ServerlessRestApi"}

func ref(name string) string    { return "Ref(" + name + ")" }
func getAtt(name string) string { return "GetAtt(" + name + ")" }

type paramDef struct {
	Type           string
	Default        any
	AllowedPattern string
	AllowedValues  []any
	MinValue       *float64
	MaxValue       *float64
}

// loadStack parses the template in file (YAML, or JSON when it ends in
// .json) for the parameter values in overrides (the defaults otherwise).
func loadStack(t *testing.T, file string, overrides map[string]string) *stack {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the template: %v", err)
	}
	isJSON := strings.HasSuffix(file, ".json")

	// Pass 1, no intrinsics resolved: the parameters and conditions.
	noProcess := &intrinsics.ProcessorOptions{NoProcess: true}
	raw := data
	if !isJSON {
		if raw, err = intrinsics.ProcessYAML(data, noProcess); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	var head struct {
		Parameters map[string]paramDef
		Conditions map[string]any
		Resources  map[string]json.RawMessage
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatalf("%s: %v", file, err)
	}

	s := &stack{params: map[string]string{}, conds: map[string]bool{}}
	for name, p := range head.Parameters {
		if p.Default != nil {
			s.params[name] = scalar(p.Default)
		}
	}
	for name, v := range overrides {
		p, ok := head.Parameters[name]
		if !ok {
			t.Fatalf("the template has no parameter %s", name)
		}
		if err := p.accepts(v); err != nil {
			t.Fatalf("parameter %s=%q: %v", name, v, err)
		}
		s.params[name] = v
	}
	for name := range head.Conditions {
		if _, err := s.condition(name, head.Conditions, nil); err != nil {
			t.Fatalf("condition %s: %v", name, err)
		}
	}

	// Pass 2: everything resolved.
	var problems []string
	known := func(name string) bool {
		_, ok := head.Resources[name]
		return ok || contains(samImplicit, name)
	}
	refHandler := func(_ string, in any, _ any) any {
		name, _ := in.(string)
		if v, ok := pseudo[name]; ok {
			return v
		}
		if p, ok := head.Parameters[name]; ok {
			v := s.params[name]
			if p.Type == "Number" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					problems = append(problems, fmt.Sprintf("Number parameter %s=%q", name, v))
				}
				return f
			}
			return v
		}
		if !known(name) {
			problems = append(problems, fmt.Sprintf("Ref to %v, which is neither a parameter nor a resource", in))
		}
		return ref(name)
	}
	getAttHandler := func(_ string, in any, _ any) any {
		var parts []string
		switch v := in.(type) {
		case string:
			parts = strings.SplitN(v, ".", 2)
		case []any:
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
		}
		if len(parts) != 2 || !known(parts[0]) {
			problems = append(problems, fmt.Sprintf("Fn::GetAtt %v does not name a resource and an attribute", in))
		}
		return getAtt(strings.Join(parts, "."))
	}
	subHandler := func(_ string, in any, tpl any) any {
		var src string
		vars := map[string]any{}
		switch v := in.(type) {
		case string:
			src = v
		case []any:
			if len(v) == 2 {
				src, _ = v[0].(string)
				vars, _ = v[1].(map[string]any)
			}
		}
		return subVar.ReplaceAllStringFunc(src, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := vars[name]; ok {
				return scalar(v)
			}
			if res, attr, ok := strings.Cut(name, "."); ok {
				return scalar(getAttHandler("", []any{res, attr}, tpl))
			}
			return scalar(refHandler("", name, tpl))
		})
	}
	ifHandler := func(_ string, in any, _ any) any {
		args, _ := in.([]any)
		if len(args) != 3 {
			problems = append(problems, fmt.Sprintf("Fn::If %v does not have 3 arguments", in))
			return nil
		}
		name, _ := args[0].(string)
		v, ok := s.conds[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("Fn::If on %v, which is not a condition", args[0]))
		}
		if v {
			return args[1]
		}
		return args[2]
	}
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref":        refHandler,
		"Fn::GetAtt": getAttHandler,
		"Fn::Sub":    subHandler,
		"Fn::If":     ifHandler,
	}}

	processed, err := intrinsics.ProcessJSON(raw, opts)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := json.Unmarshal(processed, &s.doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	// goformation's resource types reject properties they do not know;
	// the tests read those from s.doc.
	var typed map[string]any
	_ = json.Unmarshal(processed, &typed)
	resources, _ := typed["Resources"].(map[string]any)
	for _, r := range resources {
		typ, _ := at(r, "Type").(string)
		props, _ := at(r, "Properties").(map[string]any)
		for _, p := range newerThanGoformation[typ] {
			delete(props, p)
		}
	}
	if processed, err = json.Marshal(typed); err != nil {
		t.Fatal(err)
	}
	if s.tpl, err = goformation.ParseJSONWithOptions(processed, &intrinsics.ProcessorOptions{NoProcess: true}); err != nil {
		t.Fatalf("goformation cannot parse %s: %v", file, err)
	}
	sort.Strings(problems)
	for i, p := range problems {
		if i == 0 || p != problems[i-1] {
			t.Errorf("%s: %s", filepath.Base(file), p)
		}
	}
	return s
}

var subVar = regexp.MustCompile(`\$\{[^}]+\}`)

// condition evaluates the condition name (Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, Condition, on parameters and literals), memoized in s.conds.
func (s *stack) condition(name string, defs map[string]any, seen []string) (bool, error) {
	if v, ok := s.conds[name]; ok {
		return v, nil
	}
	if contains(seen, name) {
		return false, fmt.Errorf("conditions refer to each other: %v", append(seen, name))
	}
	def, ok := defs[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := s.evalBool(def, defs, append(seen, name))
	if err != nil {
		return false, err
	}
	s.conds[name] = v
	return v, nil
}

func (s *stack) evalBool(expr any, defs map[string]any, seen []string) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("%v is not a condition function", expr)
	}
	for fn, arg := range m {
		if fn == "Condition" {
			name, _ := arg.(string)
			return s.condition(name, defs, seen)
		}
		args, ok := arg.([]any)
		if !ok {
			return false, fmt.Errorf("%s takes a list, not %v", fn, arg)
		}
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes 2 values")
			}
			a, err := s.evalScalar(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.evalScalar(args[1])
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes 1 condition")
			}
			v, err := s.evalBool(args[0], defs, seen)
			return !v, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			result := and
			for _, a := range args {
				v, err := s.evalBool(a, defs, seen)
				if err != nil {
					return false, err
				}
				if and {
					result = result && v
				} else {
					result = result || v
				}
			}
			return result, nil
		}
		return false, fmt.Errorf("%s is not supported in conditions here", fn)
	}
	panic("unreachable")
}

func (s *stack) evalScalar(v any) (string, error) {
	if m, ok := v.(map[string]any); ok {
		name, _ := m["Ref"].(string)
		if len(m) != 1 || name == "" {
			return "", fmt.Errorf("%v: only Ref of a parameter is supported in Fn::Equals here", v)
		}
		val, ok := s.params[name]
		if !ok {
			if p, isPseudo := pseudo[name]; isPseudo {
				return scalar(p), nil
			}
			return "", fmt.Errorf("Ref %s: no such parameter, or it has no value", name)
		}
		return val, nil
	}
	return scalar(v), nil
}

// accepts reports whether CloudFormation would take v for the parameter.
func (p paramDef) accepts(v string) error {
	if p.AllowedPattern != "" && !regexp.MustCompile(p.AllowedPattern).MatchString(v) {
		return fmt.Errorf("does not match AllowedPattern %s", p.AllowedPattern)
	}
	if len(p.AllowedValues) > 0 {
		ok := false
		for _, a := range p.AllowedValues {
			ok = ok || scalar(a) == v
		}
		if !ok {
			return fmt.Errorf("is not one of %v", p.AllowedValues)
		}
	}
	if p.Type == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("is not a number")
		}
		if (p.MinValue != nil && f < *p.MinValue) || (p.MaxValue != nil && f > *p.MaxValue) {
			return fmt.Errorf("is out of range")
		}
	}
	return nil
}

// scalar is v as CloudFormation compares and substitutes it.
func scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// exists reports whether the stack has the resource: it is in the template
// and its Condition, if any, holds.
func (s *stack) exists(name string) bool {
	res, ok := s.resource(name)
	if !ok {
		return false
	}
	cond, _ := res["Condition"].(string)
	return cond == "" || s.conds[cond]
}

// resource is the untyped resource name.
func (s *stack) resource(name string) (map[string]any, bool) {
	resources, _ := s.doc["Resources"].(map[string]any)
	res, ok := resources[name].(map[string]any)
	return res, ok
}

// props is the untyped Properties of the resource name.
func (s *stack) props(t *testing.T, name string) map[string]any {
	t.Helper()
	res, ok := s.resource(name)
	if !ok {
		t.Fatalf("no resource %s", name)
	}
	p, _ := res["Properties"].(map[string]any)
	return p
}

// resourcesOfType lists the resources of type typ the stack has.
func (s *stack) resourcesOfType(typ string) []string {
	resources, _ := s.doc["Resources"].(map[string]any)
	var out []string
	for name, r := range resources {
		if m, _ := r.(map[string]any); m["Type"] == typ && s.exists(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// at walks v along keys (map keys, or list indexes as decimal strings).
func at(v any, keys ...string) any {
	for _, k := range keys {
		switch m := v.(type) {
		case map[string]any:
			v = m[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(m) {
				return nil
			}
			v = m[i]
		default:
			return nil
		}
	}
	return v
}

// strs is a string or a list of strings as a list (IAM's Action and
// Resource take both).
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, scalar(x))
		}
		return out
	}
	return nil
}
