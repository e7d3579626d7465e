package storagetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// diff compares want and got field by field and returns one line per
// difference. Times are compared with time.Time.Equal (the location and the
// monotonic reading do not matter); nil and empty slices and maps are equal;
// pointers are compared by what they point to.
func diff(want, got any) []string {
	var out []string
	diffValue(&out, "", reflect.ValueOf(want), reflect.ValueOf(got))
	return out
}

func diffValue(out *[]string, path string, w, g reflect.Value) {
	if !w.IsValid() || !g.IsValid() {
		if w.IsValid() != g.IsValid() {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", name(path), w, g))
		}
		return
	}
	if w.Type() != g.Type() {
		*out = append(*out, fmt.Sprintf("%s: type %s vs %s", name(path), w.Type(), g.Type()))
		return
	}
	if w.Type() == timeType {
		wt, gt := w.Interface().(time.Time), g.Interface().(time.Time)
		if !wt.Equal(gt) {
			*out = append(*out, fmt.Sprintf("%s: want %s, got %s", name(path), fmtTime(wt), fmtTime(gt)))
		}
		return
	}
	switch w.Kind() {
	case reflect.Struct:
		for i := range w.NumField() {
			f := w.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			diffValue(out, path+"."+f.Name, w.Field(i), g.Field(i))
		}
	case reflect.Slice:
		if w.Len() == 0 && g.Len() == 0 {
			return
		}
		if w.Len() != g.Len() {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", name(path), w.Interface(), g.Interface()))
			return
		}
		for i := range w.Len() {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), w.Index(i), g.Index(i))
		}
	case reflect.Map:
		if w.Len() == 0 && g.Len() == 0 {
			return
		}
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: want %v, got %v", name(path), w.Interface(), g.Interface()))
		}
	case reflect.Pointer:
		if w.IsNil() || g.IsNil() {
			if w.IsNil() != g.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: want %s, got %s", name(path), fmtPtr(w), fmtPtr(g)))
			}
			return
		}
		diffValue(out, path, w.Elem(), g.Elem())
	default:
		if !reflect.DeepEqual(w.Interface(), g.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: want %#v, got %#v", name(path), w.Interface(), g.Interface()))
		}
	}
}

func name(path string) string {
	if path == "" {
		return "value"
	}
	return path[1:]
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func fmtPtr(v reflect.Value) string {
	if v.IsNil() {
		return "nil"
	}
	return fmt.Sprintf("&%v", v.Elem().Interface())
}

// checkEqual reports every field in which got differs from want.
func checkEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("%s differs from what was written:\n  %s", what, joinLines(d))
	}
}

func joinLines(lines []string) string {
	s := ""
	for i, l := range lines {
		if i > 0 {
			s += "\n  "
		}
		s += l
	}
	return s
}

// mustOK stops the test when a set-up step fails.
func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// checkOK reports an unexpected error and lets the test go on.
func checkOK(t *testing.T, err error, what string) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: unexpected error: %v", what, err)
		return false
	}
	return true
}

// checkErr reports unless errors.Is(err, target).
func checkErr(t *testing.T, err, target error, what string) bool {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want errors.Is(err, %v)", what, err, target)
		return false
	}
	return true
}

// checkTime reports unless got is the same instant as want.
func checkTime(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if !want.Equal(got) {
		t.Errorf("%s = %s, want %s", what, fmtTime(got), fmtTime(want))
	}
}

// checkSet reports unless got and want hold the same strings in any order.
func checkSet(t *testing.T, what string, want, got []string) {
	t.Helper()
	w, g := slices.Clone(want), slices.Clone(got)
	sort.Strings(w)
	sort.Strings(g)
	if !slices.Equal(w, g) {
		t.Errorf("%s = %v, want (in any order) %v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }
