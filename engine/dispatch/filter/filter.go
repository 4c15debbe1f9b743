package filter

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// MaxSource bounds an expression's length in bytes: a filter is a rule an
// operator reads, not a program.
const MaxSource = 4096

// Filter is a compiled expression; it is immutable and shared by every
// goroutine (each evaluates with its own Env).
type Filter struct {
	src  string
	prog *vm.Program
}

// declared are the names an expression may use, with the types the
// compiler checks them against (body's is only known per message).
var declared = types.Map{"topic": types.String, "sender": types.String, "body": types.Any}

// Compile checks src and compiles it. The error says where (column, and
// line when src has several) and what is wrong; an expression whose result
// is known not to be a bool is refused (one whose type depends on the
// body, such as body.flag alone, is checked at each evaluation).
func Compile(src string) (*Filter, error) {
	if len(src) > MaxSource {
		return nil, fmt.Errorf("expression of %d bytes, at most %d allowed", len(src), MaxSource)
	}
	prog, err := expr.Compile(src, expr.Env(declared), expr.AsBool())
	if err != nil {
		return nil, position(err)
	}
	return &Filter{src: src, prog: prog}, nil
}

// position rewrites a compile error as "column C: what" (or "line L,
// column C: what"), C counted from 1, without the engine's snippet.
func position(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return fmt.Errorf("compile filter: %w", err)
	}
	if fe.Line > 1 {
		return fmt.Errorf("line %d, column %d: %s", fe.Line, fe.Column+1, fe.Message)
	}
	return fmt.Errorf("column %d: %s", fe.Column+1, fe.Message)
}

// Source is the expression as written.
func (f *Filter) Source() string { return f.src }

// Match evaluates the filter on the message set in env. An error (a
// value of the wrong type, a missing key compared as a number, a result
// that is no bool) leaves the decision to the caller.
func (f *Filter) Match(env *Env) (bool, error) {
	out, err := env.vm.Run(f.prog, env.vars)
	if err != nil {
		return false, fmt.Errorf("evaluate filter: %w", err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("evaluate filter: result is %T, not a bool", out)
	}
	return b, nil
}
