package config

import (
	"testing"
	"time"
)

func TestLockoutSettings(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		want Lockout
	}{
		{"defaults", minimal, nil, Lockout{MaxFailures: 10, Duration: 10 * time.Minute, IPMaxFailures: 100, IPWindow: 10 * time.Minute}},
		{"file", minimal + "lockout:\n  max_failures: 5\n  duration: 15m\n  ip_max_failures: 300\n  ip_window: 1h\n", nil,
			Lockout{MaxFailures: 5, Duration: 15 * time.Minute, IPMaxFailures: 300, IPWindow: time.Hour}},
		{"environment over file", minimal + "lockout:\n  max_failures: 5\n",
			[]string{"GATEHOUSE_LOCKOUT_MAX_FAILURES=7", "GATEHOUSE_LOCKOUT_DURATION=30m",
				"GATEHOUSE_LOCKOUT_IP_MAX_FAILURES=50", "GATEHOUSE_LOCKOUT_IP_WINDOW=5m"},
			Lockout{MaxFailures: 7, Duration: 30 * time.Minute, IPMaxFailures: 50, IPWindow: 5 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Lockout != tt.want {
				t.Fatalf("Lockout = %+v, want %+v", c.Lockout, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
