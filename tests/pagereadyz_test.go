package tests

import "testing"

// TestPageCountsAnyServerErrorOrFailedCheckOfReadinessAsNotReady: the
// page took only a 503 from /readyz as not ready, so a proxy's 502 in
// front of the service (restarting behind it), or a check that failed
// outright, left it saying "Live … caught up". Any 5xx, and a check that
// fails, now say the server is not ready, until a check answers again.
func TestPageCountsAnyServerErrorOrFailedCheckOfReadinessAsNotReady(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.navigate(t, s.URL+"/#/")
	const status = `const s = document.getElementById('log-status'); return [s.className.includes('down'), s.textContent]`
	b.waitFor(t, "the live log caught up", status, `[false,"Live at position 1: caught up"]`)
	// /readyz answers as the test says: "502", "fail", or the server.
	b.run(t, `const fetch0 = window.fetch;
		window.readyz = '502';
		window.fetch = (u, o) => {
			if (String(u) !== '/readyz' || window.readyz === 'server') return fetch0(u, o);
			if (window.readyz === 'fail') return Promise.reject(new TypeError('Failed to fetch'));
			return Promise.resolve(new Response('<html>Bad Gateway</html>', {status: 502, statusText: 'Bad Gateway', headers: {'Content-Type': 'text/html'}}));
		};
		return null`)
	b.waitFor(t, "a proxy's 502 to say not ready", `const s = document.getElementById('log-status');
		return [s.className.includes('down'), s.textContent.includes('not ready') && s.textContent.includes('502')]`, "[true,true]")
	b.run(t, `window.readyz = 'fail'; return null`)
	b.waitFor(t, "a failed check to say not ready", `const s = document.getElementById('log-status');
		return [s.className.includes('down'), s.textContent.includes('could not be asked')]`, "[true,true]")
	b.run(t, `window.readyz = 'server'; return null`)
	b.waitFor(t, "the live log again once /readyz answers 200", status, `[false,"Live at position 1: caught up"]`)
}
