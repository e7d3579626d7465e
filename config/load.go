package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxSecretFileSize bounds what a *_file setting may name, so that a
// mistake such as /dev/zero fails instead of exhausting memory.
const maxSecretFileSize = 64 << 10

// Load builds the configuration in four layers, each overriding the one
// before:
//
//  1. defaults: DevDefault when dev mode is on, Default otherwise. Dev mode
//     is on when GATEHOUSE_DEV says so or, if that is unset, when the file
//     has "dev: true". Deciding this first means a dev file sets only what
//     differs from the dev defaults. A --dev flag can be implemented by
//     appending "GATEHOUSE_DEV=true" to environ.
//  2. the YAML file at path ("" means no file; an empty file is fine).
//     Unknown keys are errors naming the key and line.
//  3. environ (usually os.Environ()): GATEHOUSE_<YAML_PATH> variables, see
//     EnvNames. Empty values are ignored. Unknown GATEHOUSE_* variables are
//     errors, except GATEHOUSE_TEST_*, which belong to the test harness.
//  4. *_file secrets: when x_file is set and x is not, x is read from the
//     named file, less one trailing newline, and x_file is cleared. A SAML
//     connector's metadata_file and certificate_file are read the same
//     way, whole, into metadata and certificate.
//
// Finally Load runs Validate. All problems found on the way are returned
// together, joined with errors.Join; each is a *FieldError whose Key is a
// key path, a variable name or file:line. Only a config file that cannot
// be read or parsed stops Load early. On error the returned Config is the
// zero value. Errors never contain secret values.
func Load(path string, environ []string) (Config, error) {
	var data []byte
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		data = b
	}
	return load(path, data, environ)
}

func load(name string, data []byte, environ []string) (Config, error) {
	c := Default()
	if devMode(data, environ) {
		c = DevDefault()
	}
	errs, err := decodeYAML(name, data, &c)
	if err != nil {
		return Config{}, err
	}
	errs = append(errs, applyEnv(&c, environ)...)
	errs = append(errs, readSecretFiles(&c)...)
	errs = append(errs, readConnectorFiles(&c)...)
	errs = append(errs, flatten(c.Validate())...)
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// devMode decides which defaults Load starts from.
func devMode(data []byte, environ []string) bool {
	var probe struct {
		Dev *bool `yaml:"dev"`
	}
	// Errors are ignored here: the strict decode reports them.
	_ = yaml.Unmarshal(data, &probe)
	dev := probe.Dev != nil && *probe.Dev
	name := EnvPrefix + "DEV"
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == name && v != "" {
			if b, err := strconv.ParseBool(v); err == nil {
				dev = b
			}
		}
	}
	return dev
}

// decodeYAML decodes data over c. Type errors and unknown keys come back
// as errs, with decoding carrying on past them; a syntax error is fatal.
func decodeYAML(name string, data []byte, c *Config) (errs []error, fatal error) {
	if name == "" {
		name = "config"
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	var te *yaml.TypeError
	switch {
	case errors.Is(err, io.EOF):
		return nil, nil // empty file
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			errs = append(errs, yamlError(name, msg))
		}
	case err != nil:
		return nil, yamlError(name, err.Error())
	}
	// Only one document: a second one would be silently ignored.
	for {
		var extra yaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			return errs, nil
		}
		if err != nil {
			return errs, yamlError(name, err.Error())
		}
		if len(extra.Content) == 1 && extra.Content[0].ShortTag() != "!!null" {
			return append(errs, &FieldError{Key: fmt.Sprintf("%s:%d", name, extra.Line),
				Err: errors.New("only one YAML document is allowed")}), nil
		}
	}
}

var (
	lineRE    = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownRE = regexp.MustCompile(`^field (.*) not found in type (\S+)$`)
)

// yamlError turns a message from the YAML library into a *FieldError keyed
// by file:line, naming unknown keys by their full path.
func yamlError(name, msg string) error {
	key := name
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		key, msg = name+":"+m[1], m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if m := unknownRE.FindStringSubmatch(msg); m != nil {
		msg = unknownKeyMessage(m[1], m[2])
	}
	if strings.HasSuffix(msg, "into time.Duration") {
		msg += ` (a duration needs a unit, e.g. "5s" or "1m30s")`
	}
	return &FieldError{Key: key, Err: errors.New(msg)}
}

// sections maps a settings struct type's name ("config.Server") to its key
// path ("server") and its keys, for unknown-key messages.
var sections = func() map[string]section {
	m := map[string]section{}
	eachStructType(reflect.TypeFor[Config](), "", func(key string, t reflect.Type) {
		s := section{path: key}
		for i := range t.NumField() {
			if k := yamlKey(t.Field(i)); k != "" {
				s.keys = append(s.keys, k)
			}
		}
		if _, dup := m[t.String()]; dup {
			s.path = "?" // used in two places: the line number tells which
		}
		m[t.String()] = s
	})
	return m
}()

type section struct {
	path string
	keys []string
}

func unknownKeyMessage(key, typeName string) string {
	s, ok := sections[typeName]
	if !ok {
		return fmt.Sprintf("unknown key %q", key)
	}
	msg := fmt.Sprintf("unknown key %q", joinKey(s.path, key))
	if best := suggest(key, s.keys); best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", joinKey(s.path, best))
	}
	return msg
}

// EnvNames returns, sorted, every environment variable Load reads.
func EnvNames() []string {
	names := make([]string, 0, len(envVars))
	for name := range envVars {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// EnvKey returns the key path a variable sets, e.g. "server.addr" for
// GATEHOUSE_SERVER_ADDR, and whether the variable exists.
func EnvKey(name string) (string, bool) {
	v, ok := envVars[name]
	return v.key, ok
}

func applyEnv(c *Config, environ []string) []error {
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || strings.HasPrefix(name, EnvTestPrefix) {
			continue
		}
		ev, ok := envVars[name]
		if !ok {
			msg := "unknown environment variable"
			if best := suggest(name, EnvNames()); best != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", best)
			}
			errs = append(errs, &FieldError{Key: name, Err: errors.New(msg)})
			continue
		}
		if value == "" {
			continue
		}
		if err := setScalar(root.FieldByIndex(ev.index), value); err != nil {
			errs = append(errs, &FieldError{Key: name, Err: err})
		}
	}
	return errs
}

// setScalar parses s into v. Strings (and so secrets) never fail, so the
// value quoted in an error is never a secret.
func setScalar(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf(`%q is not a duration (e.g. "5s" or "1m30s")`, s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer in range", s)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a non-negative integer in range", s)
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice: // []string, comma-separated
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
	default:
		return errors.New("cannot be set from the environment") // unreachable: envVars holds scalars only
	}
	return nil
}

// readSecretFiles fills each Secret from its *_file. When both are set it
// does nothing: Validate reports the conflict.
func readSecretFiles(c *Config) []error {
	var errs []error
	for _, p := range secretPairs(reflect.ValueOf(c).Elem()) {
		path := p.file.String()
		if path == "" || p.value.String() != "" {
			continue
		}
		s, err := readSecretFile(path)
		if err != nil {
			errs = append(errs, &FieldError{Key: p.fileKey, Err: err})
			continue
		}
		p.value.SetString(s)
		p.file.SetString("")
	}
	return errs
}

// readSecretFile returns the file's content less one trailing "\n" or
// "\r\n". Errors name the path, never the content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	if len(b) > maxSecretFileSize {
		return "", fmt.Errorf("secret file %q is larger than %d KiB", path, maxSecretFileSize>>10)
	}
	s := string(b)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	if s == "" {
		return "", fmt.Errorf("secret file %q is empty", path)
	}
	return s, nil
}

// suggest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", max(2, len(s)/4)+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
