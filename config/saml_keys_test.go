package config

import (
	"testing"
	"time"
)

// TestSAMLKeySettings: saml.key_bits and saml.metadata_refresh from the
// defaults, the file and the environment, and their bounds.
func TestSAMLKeySettings(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		bits    int
		refresh time.Duration
		want    []string // problems; empty: valid, with bits and refresh
	}{
		{"defaults", minimal, nil, 2048, 24 * time.Hour, nil},
		{"file", minimal + "saml:\n  key_bits: 3072\n  metadata_refresh: 1h\n", nil, 3072, time.Hour, nil},
		{"environment over file", minimal + "saml:\n  key_bits: 3072\n",
			[]string{"GATEHOUSE_SAML_KEY_BITS=2048", "GATEHOUSE_SAML_METADATA_REFRESH=5m"}, 2048, 5 * time.Minute, nil},
		{"1024 bits", minimal + "saml:\n  key_bits: 1024\n", nil, 0, 0,
			[]string{"saml.key_bits: must be 2048 or 3072, got 1024"}},
		{"4096 bits", minimal, []string{"GATEHOUSE_SAML_KEY_BITS=4096"}, 0, 0,
			[]string{"saml.key_bits: must be 2048 or 3072, got 4096"}},
		{"zero bits", minimal + "saml:\n  key_bits: 0\n", nil, 0, 0,
			[]string{"saml.key_bits: must be 2048 or 3072, got 0"}},
		{"refresh under 5m", minimal + "saml:\n  metadata_refresh: 4m59s\n", nil, 0, 0,
			[]string{"saml.metadata_refresh: must be at least 5m0s, got 4m59s"}},
		{"zero refresh", minimal, []string{"GATEHOUSE_SAML_METADATA_REFRESH=0s"}, 0, 0,
			[]string{"saml.metadata_refresh: must be at least 5m0s, got 0s"}},
		{"both wrong", minimal + "saml:\n  key_bits: 2047\n  metadata_refresh: -1h\n", nil, 0, 0,
			[]string{"saml.key_bits: must be 2048 or 3072, got 2047", "saml.metadata_refresh: must be at least 5m0s, got -1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadYAML(t, tt.yaml, tt.env...)
			assertProblems(t, err, tt.want)
			if len(tt.want) == 0 && (c.SAML.KeyBits != tt.bits || c.SAML.MetadataRefresh != tt.refresh) {
				t.Errorf("saml = %d bits, refresh %s; want %d, %s", c.SAML.KeyBits, c.SAML.MetadataRefresh, tt.bits, tt.refresh)
			}
		})
	}
	if dev := DevDefault(); dev.SAML.KeyBits != 2048 || dev.SAML.MetadataRefresh != 24*time.Hour {
		t.Errorf("DevDefault saml = %+v, want 2048 bits, 24h", dev.SAML)
	}
}

// TestSAMLServiceProvidersShape: each declared provider gives its metadata
// exactly once.
func TestSAMLServiceProvidersShape(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       []string
	}{
		{"url", "saml:\n  service_providers:\n    - metadata_url: https://hr.example/md\n      nameid_format: emailAddress\n", nil},
		{"file and inline", "saml:\n  service_providers:\n    - metadata_file: /x.xml\n    - metadata: \"<x/>\"\n", nil},
		{"none", "saml:\n  service_providers:\n    - name: HR\n", []string{
			"saml.service_providers[0]: give exactly one of metadata_url, metadata_file and metadata (0 given)"}},
		{"two", "saml:\n  service_providers:\n    - metadata_url: https://a.example\n      metadata_file: /x.xml\n", []string{
			"saml.service_providers[0]: give exactly one of metadata_url, metadata_file and metadata (2 given)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, minimal+tt.yaml)
			assertProblems(t, err, tt.want)
		})
	}
}
