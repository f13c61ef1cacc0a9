package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestRedactorTakesATokenOutOfWhatTheFeedLogs: the live feed logs a store's
// errors through Redactor; a token sent where a stream id goes comes back
// in them lower-cased, as a store writes ids, and must not be logged.
func TestRedactorTakesATokenOutOfWhatTheFeedLogs(t *testing.T) {
	t.Parallel()
	secret := strings.ToUpper(uuid.NewString())
	redact := esthttp.Redactor([]esthttp.Token{{Name: "app", Role: esthttp.RoleRead, Secret: secret}})
	got := redact("read the history of stream " + strings.ToLower(secret) + ": connection reset")
	if strings.Contains(strings.ToLower(got), strings.ToLower(secret)) || !strings.Contains(got, "REDACTED") {
		t.Errorf("Redactor gave %q; want the token REDACTED", got)
	}
	if got := esthttp.Redactor(nil)("nothing to hide"); got != "nothing to hide" {
		t.Errorf("Redactor with no tokens gave %q; want its input", got)
	}
}
