package adminapi

// ErrorAnswer is the body of every error answer:
// {"error": {"code": "...", "message": "..."}}.
type ErrorAnswer struct {
	Error *Problem `json:"error"`
}

// Problem says what went wrong: a stable code clients branch on
// ("unauthorized", "invalid", "not_found", ...), a message for people and,
// for a validation error, one detail per invalid field.
type Problem struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details []FieldProblem `json:"details,omitempty"`
}

// FieldProblem is one invalid field.
type FieldProblem struct {
	Field   string `json:"field"`
	Value   any    `json:"value"`
	Allowed string `json:"allowed"`
}
