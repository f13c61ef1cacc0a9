package mysqlstore_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAnAppendOnATakenPositionAnswersByItsDeadlineWhileTheHeadLookStalls:
// an append that found a position taken looks whether the log's head is
// behind its events before it answers. That look was given 3 s of its
// own, whatever the caller's deadline: with the primary slow or not
// answering, the append's answer (its HTTP request, a stop's reserve)
// waited up to 3 s past the request's time. The look now ends with the
// caller's time; here it is held until its context ends, and the append
// answers, the look never released, with the look's deadline the caller's.
func TestAnAppendOnATakenPositionAnswersByItsDeadlineWhileTheHeadLookStalls(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 3)
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "UPDATE log_head SET position = position - 2 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	type look struct {
		deadline    time.Time
		hasDeadline bool
		released    bool
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // after the append has answered
	looked := make(chan look, 1)
	s.SetBeforeHeadLook(func(lctx context.Context) {
		l := look{}
		l.deadline, l.hasDeadline = lctx.Deadline()
		select {
		case <-lctx.Done():
		case <-release:
			l.released = true
		}
		looked <- l
	})
	actx, acancel := context.WithTimeout(ctx, 2*time.Second)
	defer acancel()
	callerDeadline, _ := actx.Deadline()
	_, err := appendOne(actx, s, stream, eventstore.Exactly(3))
	if err == nil {
		t.Fatal("an append on a position taken went in")
	}
	var l look
	select {
	case l = <-looked:
	default:
		t.Fatalf("the append answered (%v) without looking at the log's head", err)
	}
	if l.released || !l.hasDeadline || l.deadline.After(callerDeadline) {
		t.Errorf("the head's look had the deadline %v (set: %t), the caller's is %v: want the look to end with the caller's time",
			l.deadline, l.hasDeadline, callerDeadline)
	}
	if errors.Is(err, eventstore.ErrDamaged) {
		t.Errorf("an append whose head look was cut short answered %v; want its own error, the look not done", err)
	}
}
