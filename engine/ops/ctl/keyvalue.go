package ctl

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"medispatcher/engine/ops/adminapi"
)

// kind is the JSON type of a settable key.
type kind int

const (
	kindInt kind = iota
	kindFloat
	kindBool
	kindString
)

func (k kind) String() string {
	return [...]string{"integer", "number", "true/false", "text"}[k]
}

// schema maps the keys a command may set to their JSON type.
type schema map[string]kind

// schemaOf reads the json keys of struct type t and their types (pointer
// fields count as their element), leaving out skip.
func schemaOf(t reflect.Type, skip ...string) schema {
	out := schema{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() || contains(skip, name) {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out[name] = kindInt
		case reflect.Float32, reflect.Float64:
			out[name] = kindFloat
		case reflect.Bool:
			out[name] = kindBool
		case reflect.String:
			out[name] = kindString
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Keys a command may set. The id of a subscription is its address, not a
// setting; the tubes and backlog of a SubView are computed.
var (
	subSchema   = schemaOf(reflect.TypeFor[adminapi.Subscription](), "id")
	alertSchema = schemaOf(reflect.TypeFor[adminapi.AlertSettings]())
)

// keys lists the keys of s, sorted.
func (s schema) keys() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parse turns "key=value" arguments into a JSON object with typed values.
// It checks every argument before returning so an operator sees all the
// mistakes at once; an unknown key's error lists the valid keys.
func (s schema) parse(args []string) (map[string]any, error) {
	if len(args) == 0 {
		return nil, usageErrorf("give at least one key=value (keys: %s)", strings.Join(s.keys(), ", "))
	}
	out := make(map[string]any, len(args))
	var problems []string
	unknown := false
	for _, arg := range args {
		key, val, ok := strings.Cut(arg, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			problems = append(problems, fmt.Sprintf("%q: want key=value", arg))
			continue
		}
		k, known := s[key]
		if !known {
			problems = append(problems, fmt.Sprintf("unknown key %q", key))
			unknown = true
			continue
		}
		if _, dup := out[key]; dup {
			problems = append(problems, fmt.Sprintf("key %q given twice", key))
			continue
		}
		v, err := k.value(val)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: want %s", key, val, k))
			continue
		}
		out[key] = v
	}
	if len(problems) == 0 {
		return out, nil
	}
	msg := strings.Join(problems, "; ")
	if unknown {
		msg += "\nvalid keys: " + strings.Join(s.keys(), ", ")
	}
	return nil, usageErrorf("%s", msg)
}

// value converts a command-line value to its JSON type.
func (k kind) value(v string) (any, error) {
	switch k {
	case kindInt:
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	case kindFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("not a finite number")
		}
		return f, err
	case kindBool:
		return strconv.ParseBool(strings.TrimSpace(v))
	default:
		return v, nil
	}
}
