package tests

import "fmt"

// failReadsThenWhenTryingAgain is a script for beforePage: it keeps every
// timer, by id, with its delay and whether it is pending, ran or was
// cleared (window.timers); while window.failing, it answers each read for
// which the JavaScript expression read is true (u, its URL; live, whether
// it asks for an event stream) with answer, "status, {headers}", and an
// HTML body; and once the page says it will try again ("Trying again in"
// in #error), it keeps the waits then pending of 900 ms or more
// (window.kept) and runs the statement then.
func failReadsThenWhenTryingAgain(read, answer, then string) string {
	return fmt.Sprintf(`
		window.timers = new Map();
		const set = window.setTimeout, clear = window.clearTimeout;
		window.setTimeout = (f, d, ...a) => {
			const rec = { d: Number(d) || 0, s: 'pending' };
			const id = set(() => { rec.s = 'ran'; f(...a); }, d);
			window.timers.set(id, rec);
			return id;
		};
		window.clearTimeout = (id) => {
			const rec = window.timers.get(id);
			if (rec && rec.s === 'pending') rec.s = 'cleared';
			clear(id);
		};
		const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			u = String(u);
			const live = o?.headers?.Accept === 'text/event-stream';
			if (window.failing && (%s)) {
				const [status, headers] = [%s];
				return Promise.resolve(new Response('<html>no</html>', { status, headers: { 'Content-Type': 'text/html', ...headers } }));
			}
			return fetch0(u, o);
		};
		document.addEventListener('DOMContentLoaded', () => {
			new MutationObserver(() => {
				if (window.kept || !window.failing || !/Trying again in/.test(document.getElementById('error').textContent)) return;
				window.kept = [...window.timers].filter(([, r]) => r.s === 'pending' && r.d >= 900).map(([id]) => id);
				%s;
			}).observe(document.getElementById('error'), { childList: true, characterData: true, subtree: true });
		});`, read, answer, then)
}
