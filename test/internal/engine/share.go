package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Two runs of the harness on one machine (two clones' make test at once)
// share one dockerd: the first starts it, the second finds it answering.
// The first must not stop it while the second still uses it, so each run
// holds a shared lock on lockPath while it uses the engine, and the run
// that started dockerd takes the lock exclusively before it stops it. The
// check for a running engine and the start of one happen under the
// exclusive lock too, so that two runs never start two.
var lockPath = filepath.Join(os.TempDir(), "keygate-docker-engine.lock")

// useTimeout bounds how long a run waits for the others: a run killed half
// way has no lock to leave behind (the kernel drops it with the process).
const useTimeout = 30 * time.Minute

// engineLock is this run's hold on lockPath.
type engineLock struct{ f *os.File }

// lockEngine takes lockPath exclusively, waiting for the other runs'
// locks to go.
func lockEngine(ctx context.Context, logf Logf) (*engineLock, error) {
	l, err := openEngineLock()
	if err != nil {
		return nil, err
	}
	if err := l.take(ctx, logf, unix.LOCK_EX, "to check for a Docker engine"); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// openEngineLock opens lockPath, holding nothing yet.
func openEngineLock() (*engineLock, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("the engine's lock file: %w", err)
	}
	return &engineLock{f}, nil
}

// share turns the exclusive lock into a shared one: this run uses the
// engine, and so may another.
func (l *engineLock) share() error {
	return unix.Flock(int(l.f.Fd()), unix.LOCK_SH)
}

// take waits for the lock of the given kind, saying once what it waits for.
func (l *engineLock) take(ctx context.Context, logf Logf, how int, why string) error {
	ctx, cancel := context.WithTimeout(ctx, useTimeout)
	defer cancel()
	for said := false; ; said = true {
		err := unix.Flock(int(l.f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK {
			return fmt.Errorf("locking %s: %w", lockPath, err)
		}
		if !said {
			logf("another run of the harness uses the Docker engine: waiting for it %s (lock %s)", why, lockPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for another run's use of the Docker engine to end (lock %s): %w", useTimeout, lockPath, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// release ends this run's hold.
func (l *engineLock) release() {
	if l != nil {
		l.f.Close()
	}
}
