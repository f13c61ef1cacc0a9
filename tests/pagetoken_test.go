package tests

import (
	"net/http"
	"testing"
)

// TestPageTokenDialogClosedWithoutATokenCanBeOpenedAgain: Escape (or
// Android's back gesture) closed the token dialog, though the page
// cancelled the dialog's cancel event: Chromium honours that only after a
// user activation since the dialog opened, which Escape is not. The page
// then said "Connecting…" for good, every view's reads waiting on a prompt
// no one could see, and nothing on it opened the dialog again: only a
// reload did. Now a dialog closed without a token leaves a note, in every
// view, that the server needs one, with a button that opens the dialog.
func TestPageTokenDialogClosedWithoutATokenCanBeOpenedAgain(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	const writer, reader = "w-0123456789abcdef", "r-0123456789abcdef"
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=app:write:"+writer+",dash:read:"+reader)
	b := startBrowser(t, chromium, driver)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderPlaced")}, "Authorization", "Bearer "+writer)

	const dialogOpen = `return document.getElementById('token-dialog').open`
	const noteShown = `return !document.getElementById('token-needed').hidden && document.getElementById('token-needed').textContent.includes('needs an access token')`
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the token dialog", dialogOpen, "true")
	b.pressKey(t, "\ue00c") // Escape
	b.waitFor(t, "the dialog still open, or a note that a token is needed", `return document.getElementById('token-dialog').open ||
		(!!document.getElementById('token-needed') && !document.getElementById('token-needed').hidden)`, "true")
	// However it is closed (the browser may keep it open on Escape):
	b.run(t, `document.getElementById('token-dialog').close(); return null`)
	b.waitFor(t, "the note that a token is needed", noteShown, "true")
	b.run(t, `location.hash = '#/streams'; return null`)
	b.waitFor(t, "the note, in another view", noteShown, "true")

	b.click(t, "#token-needed button")
	b.waitFor(t, "the token dialog, opened again", dialogOpen, "true")
	b.run(t, `document.getElementById('token-input').value = '`+reader+`';
		document.getElementById('token-form').requestSubmit(); return null`)
	b.waitFor(t, "the streams, read with the token", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	b.waitFor(t, "the note gone", `return document.getElementById('token-needed').hidden`, "true")
	b.run(t, `location.hash = '#/'; return null`)
	b.waitFor(t, "the live log, read with the token", positionsJS, "[2,1]")
}

// pressKey presses and releases key (a WebDriver key code, "\ue00c" for
// Escape) in the page, as a keyboard does.
func (b *browser) pressKey(t *testing.T, key string) {
	t.Helper()
	actions := map[string]any{"actions": []any{map[string]any{"type": "key", "id": "keyboard", "actions": []any{
		map[string]any{"type": "keyDown", "value": key}, map[string]any{"type": "keyUp", "value": key},
	}}}}
	if err := b.call(http.MethodPost, b.session+"/actions", actions, nil); err != nil {
		t.Fatalf("press %q: %v", key, err)
	}
}

// click clicks the element css selects, as a person does (a user
// activation, which a click made by a script is not).
func (b *browser) click(t *testing.T, css string) {
	t.Helper()
	var found map[string]string
	if err := b.call(http.MethodPost, b.session+"/element", map[string]string{"using": "css selector", "value": css}, &found); err != nil {
		t.Fatalf("find %s: %v", css, err)
	}
	id := found["element-6066-11e4-a52e-4f735466cecf"] // the W3C element reference
	if err := b.call(http.MethodPost, b.session+"/element/"+id+"/click", map[string]any{}, nil); err != nil {
		t.Fatalf("click %s: %v", css, err)
	}
}
