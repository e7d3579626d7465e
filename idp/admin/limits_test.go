package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-idp/gatehouse/idp/audit"
	"github.com/gatehouse-idp/gatehouse/idp/storage"
	"github.com/gatehouse-idp/gatehouse/idp/storage/postgres"
	"github.com/gatehouse-idp/gatehouse/internal/testenv"
)

// eachStore runs fn with a Service over each backend: the limits are the
// service's, but what happens to input that slips past them is the
// backend's (PostgreSQL refuses NUL and invalid UTF-8 outright).
func eachStore(t *testing.T, fn func(t *testing.T, s *Service)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newService(t)) })
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		st, err := postgres.Open(ctx, testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		s := newService(t)
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		s.Store, s.Audit = st, &audit.Recorder{Store: st, Logger: logger, Now: s.Now}
		fn(t, s)
	})
}

// wantInput fails unless err is an InputError (and no conflict) when bad,
// or nil when not.
func wantInput(t *testing.T, err error, bad bool, what string) {
	t.Helper()
	var ie *InputError
	switch {
	case bad && (!errors.As(err, &ie) || errors.Is(err, storage.ErrConflict)):
		t.Errorf("%s: err = %v; want an InputError", what, err)
	case !bad && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case bad && len(ie.Msg) > 200:
		t.Errorf("%s: the message is %d bytes long; the input must not be echoed in full", what, len(ie.Msg))
	}
}

func domains(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%d.example.com", i)
	}
	return out
}

func TestCreateOrgLimits(t *testing.T) {
	label := strings.Repeat("a", 63)
	longest := strings.Join([]string{label, label, label, strings.Repeat("b", 57)}, ".") + ".com" // 253
	tests := []struct {
		name string
		in   CreateOrgInput
		bad  bool
	}{
		{"display name at the limit", CreateOrgInput{DisplayName: strings.Repeat("é", MaxDisplayName)}, false},
		{"display name over the limit", CreateOrgInput{DisplayName: strings.Repeat("a", MaxDisplayName+1)}, true},
		{"display name of 100,000 characters", CreateOrgInput{DisplayName: strings.Repeat("a", 100_000)}, true},
		{"display name with NUL", CreateOrgInput{DisplayName: "Acme\x00Corp"}, true},
		{"display name with invalid UTF-8", CreateOrgInput{DisplayName: "Acme \xff"}, true},
		{"domains at the limit", CreateOrgInput{Domains: domains(MaxDomains)}, false},
		{"domains over the limit", CreateOrgInput{Domains: domains(MaxDomains + 1)}, true},
		{"20,000 domains", CreateOrgInput{Domains: domains(20_000)}, true},
		{"domain of 253 characters", CreateOrgInput{Domains: []string{longest}}, false},
		{"domain of 254 characters", CreateOrgInput{Domains: []string{"a" + longest}}, true},
		{"domain of 100,000 characters", CreateOrgInput{Domains: []string{strings.Repeat("a", 100_000) + ".com"}}, true},
		{"domain with NUL", CreateOrgInput{Domains: []string{"acme\x00.com"}}, true},
		{"domain with invalid UTF-8", CreateOrgInput{Domains: []string{"acme\xff.com"}}, true},
	}
	eachStore(t, func(t *testing.T, s *Service) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := tt.in
				in.Name = fmt.Sprintf("org-%d", i)
				_, err := s.CreateOrg(context.Background(), "test", in)
				wantInput(t, err, tt.bad, "CreateOrg")
				_, gerr := s.Store.GetOrganizationByName(context.Background(), in.Name)
				if tt.bad && !errors.Is(gerr, storage.ErrNotFound) {
					t.Errorf("a refused organization was stored: %v", gerr)
				}
			})
		}
	})
}

func TestCreateUserLimits(t *testing.T) {
	tests := []struct {
		name string
		in   CreateUserInput
		bad  bool
	}{
		{"name at the limit", CreateUserInput{Name: strings.Repeat("ü", MaxUserName)}, false},
		{"name over the limit", CreateUserInput{Name: strings.Repeat("a", MaxUserName+1)}, true},
		{"name of 1 MB", CreateUserInput{Name: strings.Repeat("a", 1<<20)}, true},
		{"name with NUL", CreateUserInput{Name: "Alice\x00"}, true},
		{"name with invalid UTF-8", CreateUserInput{Name: "Alice \xc3"}, true},
		{"email with NUL", CreateUserInput{Email: "alice\x00@example.com"}, true},
		{"email with invalid UTF-8", CreateUserInput{Email: "alice\xff@example.com"}, true},
		{"email of 1 MB", CreateUserInput{Email: strings.Repeat("a", 1<<20) + "@example.com"}, true},
		{"org with NUL", CreateUserInput{Org: "default\x00"}, true},
		{"org with invalid UTF-8", CreateUserInput{Org: "\xff"}, true},
	}
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := context.Background()
		if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
			t.Fatal(err)
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := tt.in
				if in.Email == "" {
					in.Email = fmt.Sprintf("u%d@example.com", i)
				}
				if in.Org == "" {
					in.Org = "default"
				}
				_, err := s.CreateUser(ctx, "test", in)
				wantInput(t, err, tt.bad, "CreateUser")
			})
		}
	})
}

// Lookups by text storage cannot hold are answers, not outages.
func TestServiceBadKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Service) {
		ctx := context.Background()
		if _, err := s.Bootstrap(ctx, "default", ""); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\x00", "alice\x00@example.com", "\xff", "caf\xc3"} {
			_, err := s.ListUsers(ctx, bad, "", 10)
			wantInput(t, err, true, fmt.Sprintf("ListUsers(org %q)", bad))
			users, err := s.ListUsers(ctx, "", bad, 10)
			if err != nil || len(users) != 0 {
				t.Errorf("ListUsers(after %q) = %d users, %v; want none", bad, len(users), err)
			}
			_, err = s.DisableUser(ctx, "test", bad)
			wantInput(t, err, true, fmt.Sprintf("DisableUser(%q)", bad))
			if _, err := s.GetClient(ctx, bad); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("GetClient(%q) = %v; want ErrNotFound", bad, err)
			}
			if err := s.DeleteClient(ctx, "test", bad); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteClient(%q) = %v; want ErrNotFound", bad, err)
			}
			if _, err := s.RotateClientSecret(ctx, "test", bad, ""); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RotateClientSecret(%q) = %v; want ErrNotFound", bad, err)
			}
		}
	})
}
