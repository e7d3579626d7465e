package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Redacted is what a set Secret prints as.
const Redacted = "[redacted]"

// Secret is a string that must never be printed: fmt, slog, JSON and YAML
// output show "[redacted]" (or "" when unset). Use Reveal to get the value.
type Secret string

// Reveal returns the secret value. Call it only where the value is used,
// never to log or format it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer with the redacted form.
func (s Secret) String() string { return s.redacted() }

// GoString implements fmt.GoStringer, so %#v redacts too.
func (s Secret) GoString() string { return strconv.Quote(s.redacted()) }

// Format implements fmt.Formatter, so every verb (%s, %v, %q, %x, %d…)
// prints the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		fmt.Fprint(f, strconv.Quote(s.redacted()))
		return
	}
	fmt.Fprint(f, s.redacted())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalText redacts the secret in JSON, YAML and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// UnmarshalYAML takes any scalar literally, ignoring explicit tags: the
// YAML library would otherwise quote the value in a tag-mismatch error.
// Errors never contain the value.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a secret must be a string", n.Line)}}
	}
	*s = Secret(n.Value)
	return nil
}

var (
	_ fmt.Formatter    = Secret("")
	_ slog.LogValuer   = Secret("")
	_ yaml.Unmarshaler = (*Secret)(nil)
)

// LogValue implements slog.LogValuer: the config as nested groups keyed by
// yaml names, with every Secret redacted.
func (c Config) LogValue() slog.Value {
	return logValue(reflect.ValueOf(c))
}

var _ slog.LogValuer = Config{}

func logValue(v reflect.Value) slog.Value {
	switch {
	case v.Type() == secretType:
		return slog.StringValue(v.Interface().(Secret).redacted())
	case v.Kind() == reflect.Struct && v.Type() != durationType:
		var attrs []slog.Attr
		for i := range v.NumField() {
			if key := yamlKey(v.Type().Field(i)); key != "" {
				attrs = append(attrs, slog.Attr{Key: key, Value: logValue(v.Field(i))})
			}
		}
		return slog.GroupValue(attrs...)
	case v.Kind() == reflect.Slice && isStructLike(v.Type().Elem()):
		attrs := make([]slog.Attr, v.Len())
		for i := range v.Len() {
			attrs[i] = slog.Attr{Key: strconv.Itoa(i), Value: logValue(v.Index(i))}
		}
		return slog.GroupValue(attrs...)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return slog.AnyValue(nil)
		}
		return logValue(v.Elem())
	case v.Kind() == reflect.Map:
		// No maps today; refuse to print one rather than risk a secret.
		return slog.StringValue("[map]")
	}
	return slog.AnyValue(v.Interface())
}
