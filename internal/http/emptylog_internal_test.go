package http

import (
	"context"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// emptyLog is a store whose log is empty and that nothing else is asked
// of, for a server whose feed is a fake: a subscription reads the log's
// head before it answers.
type emptyLog struct{ eventstore.Store }

func (emptyLog) Head(context.Context) (int64, error) { return 0, nil }
