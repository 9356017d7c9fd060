package oidc

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// celCostLimit bounds the work one expression may do per evaluation.
const celCostLimit = 1_000_000

var (
	claimsEnv = mustEnv(cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)))
	userEnv   = mustEnv(cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)))
)

func mustEnv(opts ...cel.EnvOption) *cel.Env {
	env, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err)
	}
	return env
}

// expression is a compiled CEL expression.
type expression struct {
	source string
	prg    cel.Program
}

func compile(env *cel.Env, source string) (*expression, error) {
	ast, iss := env.Compile(source)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compilation failed: %v", iss.Err())
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit))
	if err != nil {
		return nil, err
	}
	return &expression{source: source, prg: prg}, nil
}

func (e *expression) eval(vars map[string]any) (ref.Val, error) {
	out, _, err := e.prg.Eval(vars)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %v", e.source, err)
	}
	return out, nil
}

// evalString evaluates to a string; a missing value is "".
func (e *expression) evalString(vars map[string]any) (string, error) {
	out, err := e.eval(vars)
	if err != nil {
		return "", err
	}
	s, ok := out.Value().(string)
	if !ok {
		return "", fmt.Errorf("expression %q: got %s, want a string", e.source, out.Type().TypeName())
	}
	return s, nil
}

// evalStrings evaluates to a string or a list of strings.
func (e *expression) evalStrings(vars map[string]any) ([]string, error) {
	out, err := e.eval(vars)
	if err != nil {
		return nil, err
	}
	if s, ok := out.Value().(string); ok {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	if out.Type() == types.ListType {
		v, err := out.ConvertToNative(reflect.TypeOf([]string{}))
		if err != nil {
			return nil, fmt.Errorf("expression %q: want a list of strings: %v", e.source, err)
		}
		return v.([]string), nil
	}
	return nil, fmt.Errorf("expression %q: got %s, want a string or a list of strings", e.source, out.Type().TypeName())
}

// evalBool evaluates a validation rule.
func (e *expression) evalBool(vars map[string]any) (bool, error) {
	out, err := e.eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("expression " + fmt.Sprintf("%q", e.source) + " did not evaluate to a bool")
	}
	return b, nil
}
