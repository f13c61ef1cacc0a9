package linkheader

import (
	"strings"
	"testing"
)

// FuzzWithRel: whatever a server or proxy writes in a Link field, WithRel
// neither panics nor makes up a target: one it returns is what stood
// between a < and the > after it.
func FuzzWithRel(f *testing.F) {
	for _, s := range []string{`</a>; rel="next"`, `<broken; rel=next`, `</a>; title="x, \"y"; rel="prev next"`, `<a>x<b>; rel=next,,;`, `</a>;rel`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		target, ok := WithRel(v, "next")
		if ok && !strings.Contains(v, "<"+target+">") {
			t.Errorf("WithRel(%q) = %q, which stands nowhere in it between < and >", v, target)
		}
		if !ok && target != "" {
			t.Errorf("WithRel(%q) = %q and false; expected no target", v, target)
		}
	})
}
