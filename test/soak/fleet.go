package soak

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/keygate/keygate/internal/keyadmin"
	"github.com/keygate/keygate/test/proof"
	"github.com/keygate/keygate/test/rie"
)

// The functions of the soak. Both read the same secret with the same
// settings; revoke --now names the first, so Lambda replaces its
// environments, while the second's live the whole run (the leak checks'
// Lambda processes) and take a revoke at their next refresh.
const (
	fleetName  = "keygate"
	steadyName = "keygate-steady"
	localName  = "local"
)

// env is one process that answers the load: an execution environment of a
// function (its bootstrap under the Runtime Interface Emulator), or the
// local server.
type env struct {
	function string
	name     string // function/index, or "local"
	gen      int    // a replaced environment is the next generation
	started  time.Time
	fn       *rie.Function
	pid      func() (int, error)
}

// function stands in for Lambda, for one function: its configuration
// (for the fleet, in moto's Lambda API, where keygate keys reads and
// changes it) and its execution environments. A change of configuration
// replaces every environment before UpdateFunctionConfiguration returns:
// Lambda's "any change of a function's configuration makes it replace
// every one of them" (docs/rotation.md), with no request reaching an old
// environment afterwards.
type function struct {
	t    *testing.T
	name string
	boot string
	moto *lambda.Client // nil: nothing changes its configuration
	out  func(*env) *lines

	mu   sync.RWMutex
	envs []*env
	vars map[string]string
}

var _ keyadmin.LambdaClient = (*function)(nil)

func startFunction(t *testing.T, name string, n int, boot string, vars map[string]string, moto *lambda.Client, out func(*env) *lines) *function {
	f := &function{t: t, name: name, boot: boot, moto: moto, out: out, vars: vars}
	for i := range n {
		f.envs = append(f.envs, f.start(i, 0))
	}
	return f
}

func (f *function) start(i, gen int) *env {
	e := &env{function: f.name, name: f.name + "/" + strconv.Itoa(i), gen: gen, started: time.Now()}
	var vars []string
	for _, k := range slices.Sorted(maps.Keys(f.vars)) {
		vars = append(vars, k+"="+f.vars[k])
	}
	e.fn = rie.Start(f.t, f.boot, rie.Options{Env: vars, Output: f.out(e)})
	e.pid = func() (int, error) { return proof.FindByName(e.fn.Pids(), "bootstrap") }
	return e
}

// use runs do with environment i, which no replacement takes away
// meanwhile: one invocation at a time, as Lambda sends them.
func (f *function) use(i int, do func(*env)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	do(f.envs[i])
}

// current returns the environments now serving.
func (f *function) current() []*env {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.envs)
}

// replace replaces the environments at idx (Lambda recycles environments
// when it likes; a change of configuration replaces them all). Their next
// invocation is a cold start.
func (f *function) replace(idx ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range idx {
		old := f.envs[i]
		old.fn.Stop()
		f.envs[i] = f.start(i, old.gen+1)
	}
}

func (f *function) GetFunctionConfiguration(ctx context.Context, in *lambda.GetFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	return f.moto.GetFunctionConfiguration(ctx, in, optFns...)
}

func (f *function) UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error) {
	out, err := f.moto.UpdateFunctionConfiguration(ctx, in, optFns...)
	if err != nil {
		return out, err
	}
	cfg, err := f.moto.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(f.name)})
	if err != nil {
		return out, fmt.Errorf("the stand-in reading the new configuration: %w", err)
	}
	f.mu.Lock()
	f.vars = cfg.Environment.Variables
	f.mu.Unlock()
	all := make([]int, len(f.envs))
	for i := range all {
		all[i] = i
	}
	f.replace(all...)
	return out, nil
}

// stop ends every environment.
func (f *function) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.envs {
		e.fn.Stop()
	}
}
