package phone

import "testing"

func TestCountry(t *testing.T) {
	tests := []struct {
		e164, want string
		ok         bool
	}{
		{"+41791234567", "CH", true},
		{"+4930123456", "DE", true},
		{"+442079460958", "GB", true},
		{"+447781123456", "GB", true}, // Guernsey is in GB's plan
		{"+33612345678", "FR", true},
		{"+919876543210", "IN", true},
		{"+4231234567", "LI", true},
		{"+420601123456", "CZ", true},
		{"+380501234567", "UA", true},
		{"+6831234567", "NU", true},
		// +1 by area code.
		{"+14155552671", "US", true},
		{"+12125550100", "US", true},
		{"+18005550100", "US", true}, // toll free
		{"+14165550199", "CA", true},
		{"+16045550123", "CA", true},
		{"+18765550123", "JM", true},
		{"+18095550123", "DO", true},
		{"+17875550123", "PR", true},
		{"+12425550123", "BS", true},
		// +7: Kazakhstan's blocks, Russia's.
		{"+77012345678", "KZ", true},
		{"+76012345678", "KZ", true},
		{"+79161234567", "RU", true},
		{"+74951234567", "RU", true},
		// No region.
		{"+80012345678", "", false},  // international freephone
		{"+881612345678", "", false}, // satellite
		{"+88212345678", "", false},
		{"+99912345678", "", false}, // unassigned
		{"+28012345678", "", false}, // unassigned
		{"", "", false},
		{"+41 79 123 45 67", "", false}, // not E.164: Parse it first
		{"0041791234567", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.e164, func(t *testing.T) {
			got, ok := Country(tt.e164)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Country(%q) = %q, %v; want %q, %v", tt.e164, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestInRegions(t *testing.T) {
	allow := []string{"CH", "de", " US "}
	tests := []struct {
		e164    string
		regions []string
		want    bool
	}{
		{"+41791234567", allow, true},
		{"+4930123456", allow, true},
		{"+14155552671", allow, true},
		{"+14165550199", allow, false}, // Canada is not the US
		{"+18765550123", allow, false}, // nor is Jamaica
		{"+33612345678", allow, false},
		{"+80012345678", allow, false}, // no region
		{"+41791234567", nil, false},   // an empty list allows nothing
		{"not a number", allow, false},
		{"+77012345678", []string{"RU"}, false},
		{"+77012345678", []string{"KZ"}, true},
	}
	for _, tt := range tests {
		if got := InRegions(tt.e164, tt.regions); got != tt.want {
			t.Errorf("InRegions(%q, %q) = %v, want %v", tt.e164, tt.regions, got, tt.want)
		}
	}
}

// Country takes the first length of code that matches, which is right
// only while no code in the table begins another.
func TestCallingCodesArePrefixFree(t *testing.T) {
	for code := range callingCodes {
		for n := 1; n < len(code); n++ {
			if r, ok := callingCodes[code[:n]]; ok {
				t.Errorf("code %s (%s) begins %s (%s)", code[:n], r, code, callingCodes[code])
			}
		}
		if code[0] == '0' || len(code) > 3 {
			t.Errorf("code %q is not a calling code", code)
		}
	}
	for area, r := range nanpRegions {
		if len(area) != 3 || len(r) != 2 {
			t.Errorf("NANP entry %q: %q", area, r)
		}
	}
}

func TestKnownRegion(t *testing.T) {
	for _, tt := range []struct {
		r    string
		want bool
	}{{"CH", true}, {"gb", true}, {" us ", true}, {"CA", true}, {"JM", true}, {"KZ", true}, {"RU", true},
		{"GG", false}, {"JE", false}, {"XX", false}, {"", false}, {"UK", false}} {
		if got := KnownRegion(tt.r); got != tt.want {
			t.Errorf("KnownRegion(%q) = %v; want %v", tt.r, got, tt.want)
		}
	}
}
