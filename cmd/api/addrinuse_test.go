package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartOnAnAddressInUseNamesTheVariable: a start whose
// TRIBUTARY_DEBUG_ADDR was taken said so, naming it; one whose
// TRIBUTARY_ADDR was taken said "listen on 127.0.0.1:8080: … address
// already in use", naming no setting, which left an operator to find which
// of the two addresses it was. Each names its variable. On both stores.
func TestAStartOnAnAddressInUseNamesTheVariable(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { taken.Close() })
		store := &closedByTest{closableStore: k.Open(t).(closableStore)}
		for _, tc := range []struct{ variable, addr, debugAddr string }{
			{"TRIBUTARY_ADDR", taken.Addr().String(), ""},
			{"TRIBUTARY_DEBUG_ADDR", "127.0.0.1:0", taken.Addr().String()},
		} {
			cfg := config.Defaults()
			cfg.Addr, cfg.DebugAddr = tc.addr, tc.debugAddr
			log := slog.New(slog.NewJSONHandler(&testlog.Buffer{}, nil))
			err := serve(context.Background(), context.Background(), cfg, nil, store, nil, log, metrics.New("test"))
			if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "("+tc.variable+")") {
				t.Errorf("a start whose %s is in use: expected the listen error naming (%s), got %v", tc.variable, tc.variable, err)
			}
		}
	})
}
