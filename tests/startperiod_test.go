package tests

import (
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// TestTheAPIsHealthCheckWaitsOutTheStartupTimeout: nothing listens while
// the store is opened and migrated, up to TRIBUTARY_STARTUP_TIMEOUT, and a
// health check failing meanwhile must not count: the api's health check
// under Compose (its own, or the image's HEALTHCHECK it inherits) has a
// start period longer than the timeout compose.yaml sets by default, and
// than the service's own default. README's probe advice says the same for
// Kubernetes.
func TestTheAPIsHealthCheckWaitsOutTheStartupTimeout(t *testing.T) {
	t.Parallel()
	hc := commandsOf[*instructions.HealthCheckCommand](parseDockerfile(t).runtime())
	if len(hc) != 1 {
		t.Fatalf("Dockerfile: expected one HEALTHCHECK in the runtime stage, got %d", len(hc))
	}
	start, from := hc[0].Health.StartPeriod, "the image's HEALTHCHECK --start-period"
	api := service(t, loadCompose(t, nil, "compose.yaml"), "api")
	if h := api.HealthCheck; h != nil && h.StartPeriod != nil {
		start, from = time.Duration(*h.StartPeriod), "compose api's healthcheck start_period"
	}
	for what, value := range map[string]string{
		"compose.yaml's TRIBUTARY_STARTUP_TIMEOUT": environ(api)["TRIBUTARY_STARTUP_TIMEOUT"],
		"the service's default":                    settings()["TRIBUTARY_STARTUP_TIMEOUT"],
	} {
		timeout, err := time.ParseDuration(value)
		if err != nil {
			t.Fatalf("%s %q: %v", what, value, err)
		}
		if start <= timeout {
			t.Errorf("%s is %s; expected it longer than %s, %s: a start that awaits the database would be counted unhealthy", from, start, what, timeout)
		}
	}
}
