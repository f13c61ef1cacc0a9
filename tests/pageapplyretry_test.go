package tests

import (
	"fmt"
	"testing"
)

// TestPageApplyWithUnchangedFiltersShowsTheViewAgain: a view stopped by a
// refused read ("HTTP 403", a proxy's) stays stopped; "Apply" (the live
// log's) or "Show" (the stream list's) with the filters as they are, the
// retry a user reaches for, did nothing: the fragment was unchanged, so no
// view was shown again. Each now reads its view again.
func TestPageApplyWithUnchangedFiltersShowsTheViewAgain(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderPlaced")})
	// The first read of each view is refused, as a proxy in front may.
	b.beforePage(t, `const fetch0 = window.fetch;
		window.refused = {};
		window.fetch = (u, o) => {
			const read = /^\/events\?stream_type=order&after=\d+&limit=/.test(String(u)) ? 'log' : String(u) === '/streams?stream_type=order&limit=50' ? 'list' : '';
			if (!read || o?.headers?.Accept !== 'application/json' || window.refused[read]) return fetch0(u, o);
			window.refused[read] = true;
			return Promise.resolve(new Response('{"title":"Forbidden","status":403,"detail":"Refused by a proxy."}',
				{ status: 403, headers: { 'Content-Type': 'application/problem+json' } }));
		};`)
	for _, c := range []struct{ hash, form, shownJS, want string }{
		{"#/?stream_type=order", "log-filter", positionsJS, "[2,1]"},
		{"#/streams?stream_type=order", "streams-filter", `return document.querySelectorAll('#streams-table tbody tr').length`, "1"},
	} {
		b.navigate(t, s.URL+"/"+c.hash)
		b.waitFor(t, c.hash+" stopped by the refusal", `return document.getElementById('error').textContent.includes('Refused by a proxy')`, "true")
		b.run(t, `document.querySelector('#`+c.form+` button[type=submit]').click(); return null`)
		b.waitFor(t, c.hash+" read again, its error gone", `const shown = (() => { `+c.shownJS+` })();
			return [shown, document.getElementById('error').textContent, location.hash]`, fmt.Sprintf(`[%s,"",%q]`, c.want, c.hash))
	}
}
