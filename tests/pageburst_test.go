package tests

import "testing"

// TestPageHandlesABurstOfEventsInSlices: a burst of events (a load test,
// a batch import) reaches the page in reads of megabytes, the network's
// buffer filled while the page was busy with the last one, and the page
// handled each read whole, in one task: 20,000 events of the log made
// tasks of one to two seconds in which the page answered no click, key or
// scroll. A read is now handled 64 KiB at a time, the page yielding
// between two: here one read of 20,000 events (4.6 MB) is seen, by a
// MutationObserver (which runs only once the page's code has yielded), to
// count them up in more than one step, and every one of them is counted
// and the newest shown.
func TestPageHandlesABurstOfEventsInSlices(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	// The page's subscription of the log, from position 0, is answered
	// with one read of 5,000 events, then kept open.
	b.beforePage(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			if (o?.headers?.Accept !== 'text/event-stream' || !String(u).startsWith('/events?after=0') || window.fed) return fetch0(u, o);
			window.fed = true;
			const parts = ['retry: 2000\n\n'];
			for (let p = 1; p <= 5000; p++) {
				parts.push('id: ' + p + '\ndata: {"id":"01a24fe8-dc46-7a58-8cf1-' + String(p).padStart(12, '0') + '","stream_id":"6cc7a29d-0865-4910-b0f2-85c18a82a5b5",' +
					'"stream_type":"burst","version":' + p + ',"position":' + p + ',"type":"Burst","data":{"p":' + p + '},"recorded_at":"2026-01-01T00:00:00.000000Z"}\n\n');
			}
			parts.push('event: caught-up\ndata: 5000\n\n');
			const bytes = new TextEncoder().encode(parts.join(''));
			const body = new ReadableStream({ start(c) { c.enqueue(bytes); } });
			return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } }));
		};
		document.addEventListener('DOMContentLoaded', () => {
			window.counts = [];
			const seen = document.getElementById('stat-seen');
			new MutationObserver(() => window.counts.push(Number(seen.textContent))).observe(seen, { childList: true, characterData: true, subtree: true });
		});`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "every event counted", `return document.getElementById('stat-seen').textContent`, `"5000"`)
	b.waitFor(t, "the newest shown", `return [document.querySelector('#log-events li')?.dataset.position, document.querySelectorAll('#log-events li').length]`, `["5000",500]`)
	b.waitFor(t, "the read counted up in more than one step", `return window.counts.filter((n) => n > 0 && n < 5000).length > 0`, "true")
}
