package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// This file derives everything that follows from the shape of Config:
// key paths, environment variable names and *_file secret pairs.

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// yamlKey returns the YAML key of a struct field, or "" when it has none.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// joinKey appends a key or an index ("[2]") to a key path.
func joinKey(parent, key string) string {
	switch {
	case parent == "":
		return key
	case key == "":
		return parent
	case strings.HasPrefix(key, "["):
		return parent + key
	}
	return parent + "." + key
}

// isStructLike reports whether t is a struct (or pointer to one) that
// holds settings, as opposed to a scalar such as time.Duration.
func isStructLike(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// eachStruct calls fn for v and for every settings struct nested in it,
// through struct fields, pointers and slices, with its key path.
func eachStruct(v reflect.Value, key string, fn func(key string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			eachStruct(v.Elem(), key, fn)
		}
	case reflect.Slice:
		if isStructLike(v.Type().Elem()) {
			for i := range v.Len() {
				eachStruct(v.Index(i), joinKey(key, fmt.Sprintf("[%d]", i)), fn)
			}
		}
	case reflect.Struct:
		fn(key, v)
		for i := range v.NumField() {
			if k := yamlKey(v.Type().Field(i)); k != "" {
				eachStruct(v.Field(i), joinKey(key, k), fn)
			}
		}
	}
}

// eachStructType is eachStruct over types; a slice element's path ends in
// "[]". Used to name the section of an unknown YAML key.
func eachStructType(t reflect.Type, key string, fn func(key string, t reflect.Type)) {
	switch t.Kind() {
	case reflect.Pointer:
		eachStructType(t.Elem(), key, fn)
	case reflect.Slice:
		if isStructLike(t.Elem()) {
			eachStructType(t.Elem(), key+"[]", fn)
		}
	case reflect.Struct:
		fn(key, t)
		for i := range t.NumField() {
			if k := yamlKey(t.Field(i)); k != "" {
				eachStructType(t.Field(i).Type, joinKey(key, k), fn)
			}
		}
	}
}

// fieldByKey returns the index of the field of struct type t whose YAML key
// is key.
func fieldByKey(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		if yamlKey(t.Field(i)) == key {
			return i, true
		}
	}
	return 0, false
}

// secretPair is a Secret field and the *_file string field that may supply
// it, found through the `secret:"<file key>"` tag.
type secretPair struct {
	key, fileKey string
	value, file  reflect.Value
}

// secretPairs returns every secret pair in the settings reachable from v,
// which must be addressable for the values to be set.
func secretPairs(v reflect.Value) []secretPair {
	var out []secretPair
	eachStruct(v, "", func(key string, s reflect.Value) {
		t := s.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			fileKey, ok := f.Tag.Lookup("secret")
			if !ok {
				continue
			}
			j, ok := fieldByKey(t, fileKey)
			if !ok || f.Type != secretType || t.Field(j).Type.Kind() != reflect.String {
				panic(fmt.Sprintf("config: %s.%s: secret tag must pair a Secret with a string sibling, got %q", t, f.Name, fileKey))
			}
			out = append(out, secretPair{
				key:     joinKey(key, yamlKey(f)),
				fileKey: joinKey(key, fileKey),
				value:   s.Field(i),
				file:    s.Field(j),
			})
		}
	})
	return out
}

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "GATEHOUSE_"

// EnvTestPrefix starts variables reserved for the test harness; Load
// ignores them.
const EnvTestPrefix = "GATEHOUSE_TEST_"

// envVar is one scalar setting reachable from an environment variable.
type envVar struct {
	name  string // GATEHOUSE_SERVER_ADDR
	key   string // server.addr
	index []int  // field index path from Config
}

// isScalar reports whether a field of type t can be set from one variable.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// envVars maps variable names to settings. Lists of structs (and maps,
// pointers) have no variables: they are configured in the file.
var envVars = func() map[string]envVar {
	vars := map[string]envVar{}
	var walk func(t reflect.Type, key string, index []int)
	walk = func(t reflect.Type, key string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			k := yamlKey(f)
			if k == "" {
				continue
			}
			path := joinKey(key, k)
			idx := append(append([]int(nil), index...), i)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, path, idx)
			case isScalar(f.Type):
				name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
				if old, dup := vars[name]; dup {
					panic(fmt.Sprintf("config: %s and %s both map to %s", old.key, path, name))
				}
				if strings.HasPrefix(name, EnvTestPrefix) {
					panic(fmt.Sprintf("config: %s maps to the reserved %s", path, name))
				}
				vars[name] = envVar{name: name, key: path, index: idx}
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return vars
}()
