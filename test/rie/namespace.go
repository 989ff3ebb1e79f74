package rie

import (
	"os"
	"os/exec"
	"syscall"
)

// privateVarScript runs in a new mount namespace: it makes the mounts
// private (so nothing propagates back to the host), hides /var under a
// tmpfs, copies the bootstrap to /var/task/bootstrap, the path the
// emulator's multi-concurrency mode insists on, and becomes the emulator.
const privateVarScript = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 keygate-rie /var
mkdir /var/task
cp "$1" /var/task/bootstrap
shift
exec "$@"`

// inPrivateVar returns the command that runs the emulator with args in
// its own mount namespace (see privateVarScript), completing attr with
// the namespace flags. Without root it also enters a user namespace in
// which the caller is root, which is what mounting needs.
func inPrivateVar(attr *syscall.SysProcAttr, emulator, bootstrap string, args []string) *exec.Cmd {
	attr.Cloneflags = syscall.CLONE_NEWNS
	if uid, gid := os.Getuid(), os.Getgid(); uid != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	shArgs := append([]string{"-c", privateVarScript, "sh", bootstrap, emulator}, args...)
	return exec.Command("/bin/sh", shArgs...)
}
