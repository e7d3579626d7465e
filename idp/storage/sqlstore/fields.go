package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-idp/gatehouse/idp/storage"
)

// fields maps one entity onto its columns, both ways: an entity's fields
// function lists each column once, and that list gives the INSERT arguments
// (args), the Scan destinations (dest) and the conversions after Scan
// (decode). So the column order is written in one place per table.
type fields struct {
	names []string
	enc   []func() (any, error)
	dest  []any
	dec   []func() error
}

func (f *fields) add(name string, enc func() (any, error), dest any, dec func() error) {
	f.names = append(f.names, name)
	f.enc = append(f.enc, enc)
	f.dest = append(f.dest, dest)
	if dec != nil {
		f.dec = append(f.dec, dec)
	}
}

// args encodes the entity's current values in column order.
func (f *fields) args() ([]any, error) {
	out := make([]any, len(f.enc))
	for i, enc := range f.enc {
		v, err := enc()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.names[i], err)
		}
		out[i] = v
	}
	return out, nil
}

// scan reads one row into the entity.
func (f *fields) scan(r Row) error {
	if err := r.Scan(f.dest...); err != nil {
		return err
	}
	for _, dec := range f.dec {
		if err := dec(); err != nil {
			return err
		}
	}
	return nil
}

func (f *fields) columns() string { return strings.Join(f.names, ", ") }

func plain[T any](p *T) func() (any, error) {
	return func() (any, error) { return *p, nil }
}

// storableText encodes a text column, refusing what a backend cannot store.
func storableText(name string, p *string) func() (any, error) {
	return func() (any, error) {
		if !storage.Storable(*p) {
			return nil, fmt.Errorf("%s: %w", name, storage.ErrInvalid)
		}
		return *p, nil
	}
}

func (f *fields) text(name string, p *string)  { f.add(name, storableText(name, p), p, nil) }
func (f *fields) boolean(name string, p *bool) { f.add(name, plain(p), p, nil) }
func (f *fields) bytes(name string, p *[]byte) { f.add(name, plain(p), p, nil) }
func (f *fields) int64(name string, p *int64)  { f.add(name, plain(p), p, nil) }
func (f *fields) integer(name string, p *int) {
	var v int64
	f.add(name, func() (any, error) { return int64(*p), nil }, &v, func() error { *p = int(v); return nil })
}

// ref is a text column that references another table: "" is stored as NULL
// so that an entity without, say, a user passes the foreign key.
func (f *fields) ref(name string, p *string) {
	var v *string
	f.add(name, func() (any, error) {
		if *p == "" {
			return nil, nil
		}
		if !storage.Storable(*p) {
			return nil, fmt.Errorf("%s: %w", name, storage.ErrInvalid)
		}
		return *p, nil
	}, &v, func() error {
		*p = ""
		if v != nil {
			*p = *v
		}
		return nil
	})
}

// optInt64 is a nullable BIGINT.
func (f *fields) optInt64(name string, p **int64) {
	f.add(name, func() (any, error) {
		if *p == nil {
			return nil, nil
		}
		return **p, nil
	}, p, nil)
}

func (f *fields) time(name string, p *time.Time) {
	var v int64
	f.add(name, func() (any, error) { return micros(*p), nil }, &v, func() error { *p = fromMicros(v); return nil })
}

func (f *fields) duration(name string, p *time.Duration) {
	var v int64
	f.add(name, func() (any, error) { return int64(*p), nil }, &v, func() error { *p = time.Duration(v); return nil })
}

// list is a []string stored as a JSON array; nil and empty read back as nil.
func (f *fields) list(name string, p *[]string) {
	f.jsonText(name, p, func() {
		if len(*p) == 0 {
			*p = nil
		}
	})
}

// dict is a map[string]string stored as a JSON object; nil and empty read
// back as nil.
func (f *fields) dict(name string, p *map[string]string) {
	f.jsonText(name, p, func() {
		if len(*p) == 0 {
			*p = nil
		}
	})
}

// jsonBytes is opaque JSON kept as text; empty is stored as "" and reads
// back as nil. Anything but valid JSON is refused, so a door cannot store
// bytes PostgreSQL's text type would reject.
func (f *fields) jsonBytes(name string, p *[]byte) {
	var v string
	f.add(name, func() (any, error) {
		if len(*p) == 0 {
			return "", nil
		}
		if !json.Valid(*p) || !utf8.Valid(*p) {
			return nil, fmt.Errorf("%s is not valid JSON in UTF-8: %w", name, storage.ErrInvalid)
		}
		return string(*p), nil
	}, &v, func() error {
		*p = nil
		if v != "" {
			*p = []byte(v)
		}
		return nil
	})
}

// jsonText stores *p as JSON text. It is encoded to a string before it
// reaches the driver because pgx would otherwise send a []string as text[].
func (f *fields) jsonText(name string, p any, normalize func()) {
	var v string
	f.add(name, func() (any, error) {
		// json.Marshal would silently turn invalid UTF-8 into U+FFFD.
		if err := checkText(name, p); err != nil {
			return nil, err
		}
		b, err := json.Marshal(p)
		return string(b), err
	}, &v, func() error {
		if err := json.Unmarshal([]byte(v), p); err != nil {
			return fmt.Errorf("decode %s: %w", name, err)
		}
		if normalize != nil {
			normalize()
		}
		return nil
	})
}

// optJSON is a struct that may be absent, stored as JSON text; nil is
// stored as "" and "" reads back nil, so rows written before the column
// existed (its default is the empty string) read as "none".
func optJSON[T any](f *fields, name string, p **T) {
	var v string
	f.add(name, func() (any, error) {
		if *p == nil {
			return "", nil
		}
		// json.Marshal would silently turn invalid UTF-8 into U+FFFD.
		if err := checkText(name, *p); err != nil {
			return nil, err
		}
		b, err := json.Marshal(*p)
		return string(b), err
	}, &v, func() error {
		*p = nil
		if v == "" {
			return nil
		}
		out := new(T)
		if err := json.Unmarshal([]byte(v), out); err != nil {
			return fmt.Errorf("decode %s: %w", name, err)
		}
		*p = out
		return nil
	})
}

// micros stores the zero time as 0 so that IsZero survives a round trip.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
