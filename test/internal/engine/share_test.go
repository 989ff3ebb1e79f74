package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Runs that use the engine share it; the check-and-start, and the stop of
// a dockerd a run started, wait until no other run uses it.
func TestEngineLock(t *testing.T) {
	saved := lockPath
	lockPath = filepath.Join(t.TempDir(), "engine.lock")
	t.Cleanup(func() { lockPath = saved })
	// What must succeed gets a minute, not the half hour a run waits.
	ctx, cancelAll := context.WithTimeout(context.Background(), time.Minute)
	defer cancelAll()
	logf := func(string, ...any) {}

	a, err := lockEngine(ctx, logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.share(); err != nil {
		t.Fatal(err)
	}
	// A second run checks for the engine while the first uses it: it
	// waits for the first.
	got := make(chan *engineLock)
	go func() {
		b, err := lockEngine(ctx, logf)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	select {
	case <-got:
		t.Fatal("a second run took the engine's lock exclusively while the first shared it")
	case <-time.After(500 * time.Millisecond):
	}
	a.release()
	var b *engineLock
	select {
	case b = <-got:
	case <-time.After(time.Minute):
		t.Fatal("the lock was not taken within a minute of its release")
	}
	// Shared, it lets a third run share it too; taken exclusively (the
	// stop of the dockerd b started) it waits for that one to end.
	if err := b.share(); err != nil {
		t.Fatal(err)
	}
	c, err := openEngineLock()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.take(ctx, logf, unix.LOCK_SH, "to share"); err != nil {
		t.Fatalf("a third run could not share the engine: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := b.take(short, logf, unix.LOCK_EX, "to stop"); err == nil {
		t.Fatal("the lock was taken exclusively while another run shared it")
	}
	c.release()
	if err := b.take(ctx, logf, unix.LOCK_EX, "to stop"); err != nil {
		t.Fatalf("the lock was not taken exclusively once the others had gone: %v", err)
	}
	b.release()
}
