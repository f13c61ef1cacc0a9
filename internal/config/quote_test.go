package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestNoSettingsErrorQuotesItsValue: a DSN or a token set in the wrong
// variable was printed by the error that refused it (TRIBUTARY_ADDR "…" is
// not host:port, envconfig's converting '…' to type time.Duration, a
// number's got "…"), into logs that many people read. Every setting's error
// names the variable and what it expects, never the value as written.
func TestNoSettingsErrorQuotesItsValue(t *testing.T) {
	secrets := []string{"user:s3cret@tcp(db:3306)/x", "app:write:s3cret0123456789abcdef", " s3cret\n", "s3cret@db:3306",
		"s3cret", "s3cret:s3cret", "[s3cret]:80", "0x5ec3e7", "-s3cret"}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("envconfig")
		if name == "" {
			continue // not a setting: what Load warns of
		}
		for _, secret := range secrets {
			clearTributaryEnv(t)
			t.Setenv(name, secret)
			_, err := Load()
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "5ec3e7") {
				t.Errorf("%s=%q: the error quotes the value: %v", name, secret, err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: expected the error to name the variable, got %v", name, secret, err)
			}
		}
	}
}
