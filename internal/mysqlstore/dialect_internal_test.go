package mysqlstore

import "testing"

func TestLockNoWaitKnowsWhichServersTakeNOWAIT(t *testing.T) {
	for version, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true,
		"10.3.39-MariaDB":            true,
		"10.2.44-MariaDB-log":        false,
		"11.4.2-MariaDB":             true,
		"5.5.5-10.6.12-MariaDB":      true, // as some proxies report it
		"8.0.36":                     true,
		"8.4.0-commercial":           true,
		"5.7.44-log":                 false,
		"":                           false,
		"garbage":                    false,
	} {
		if got := lockNoWait(version); got != want {
			t.Errorf("lockNoWait(%q) = %v; want %v", version, got, want)
		}
	}
}
