package migrations

import (
	"strings"
	"testing"
)

// Both dialects must describe the same history, or a deployment moving
// from SQLite to PostgreSQL would land on a different schema version.
func TestDialectsHaveSameMigrations(t *testing.T) {
	sqlite, err := Load(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	postgres, err := Load(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(sqlite) == 0 {
		t.Fatal("no migrations embedded")
	}
	if len(sqlite) != len(postgres) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(sqlite), len(postgres))
	}
	for i := range sqlite {
		s, p := sqlite[i], postgres[i]
		if s.Version != p.Version || s.Name != p.Name {
			t.Errorf("migration %d: sqlite %04d_%s, postgres %04d_%s", i, s.Version, s.Name, p.Version, p.Name)
		}
		if s.Version != i+1 {
			t.Errorf("migration %d has version %04d; versions must be 1, 2, 3, ... without gaps", i, s.Version)
		}
		if strings.TrimSpace(s.SQL) == "" || strings.TrimSpace(p.SQL) == "" {
			t.Errorf("migration %04d is empty in one dialect", s.Version)
		}
	}
}

func TestLoadUnknownDialect(t *testing.T) {
	if _, err := Load("oracle"); err == nil {
		t.Fatal("Load(oracle) succeeded")
	}
}

func TestCheckKnown(t *testing.T) {
	all := []Migration{{Version: 1}, {Version: 2}}
	tests := []struct {
		name    string
		done    []int64
		wantErr bool
	}{
		{"fresh", nil, false},
		{"partial", []int64{1}, false},
		{"complete", []int64{1, 2}, false},
		{"newer database", []int64{1, 2, 3}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkKnown(tt.done, all); (err != nil) != tt.wantErr {
				t.Fatalf("checkKnown(%v) = %v, want error %v", tt.done, err, tt.wantErr)
			}
		})
	}
}
