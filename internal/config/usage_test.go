package config

import (
	"bytes"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestUsageNamesEverySettingWithItsPrefix: `api help` described settings
// by their names without the prefix ("when MYSQL_DSN is empty", "at least
// MAX_BODY_BYTES", in ten places), and a name without it is never a
// setting: an operator who copied one set a variable nothing reads. Every
// setting the help names must carry TRIBUTARY_.
func TestUsageNamesEverySettingWithItsPrefix(t *testing.T) {
	t.Parallel()
	settings := map[string]bool{}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if name, ok := strings.CutPrefix(ct.Field(i).Tag.Get("envconfig"), "TRIBUTARY_"); ok {
			settings[name] = true
		}
	}
	if len(settings) < 10 {
		t.Fatalf("found %d settings in Config's tags; want them all", len(settings))
	}
	var help bytes.Buffer
	if err := Usage(&help); err != nil {
		t.Fatal(err)
	}
	rest := regexp.MustCompile(`TRIBUTARY_[A-Z0-9_]+`).ReplaceAllString(help.String(), "")
	for _, word := range regexp.MustCompile(`[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+`).FindAllString(rest, -1) {
		if settings[word] {
			t.Errorf("the help names the setting %s without its prefix; want TRIBUTARY_%s", word, word)
		}
	}
}
