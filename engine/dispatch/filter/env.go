package filter

import "github.com/expr-lang/expr/vm"

// Env is what an expression sees of one message, with the scratch space of
// its evaluation. It is reused from message to message by one goroutine
// and must not be shared.
type Env struct {
	vars map[string]any
	vm   vm.VM
}

// NewEnv returns an empty Env.
func NewEnv() *Env {
	return &Env{vars: map[string]any{"topic": "", "sender": "", "body": nil}}
}

// Set makes env describe one message: its topic, its sender and its body
// decoded (message.DecodeValue).
func (env *Env) Set(topic, sender string, body any) {
	env.vars["topic"], env.vars["sender"], env.vars["body"] = topic, sender, body
}
