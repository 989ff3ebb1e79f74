package proc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// A shell this test starts, and the sleep the shell starts, are this
// process's child and grandchild; nothing else is in the shell's tree.
func TestChildrenAndTree(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 30 & wait")
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	sh := cmd.Process.Pid
	var sleep []int
	for i := 0; i < 1000 && len(sleep) == 0; i++ { // until the shell has forked
		sleep = Children(sh)
		if len(sleep) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if len(sleep) != 1 {
		t.Fatalf("the shell's children: %v, want its sleep", sleep)
	}
	if !slices.Contains(Children(os.Getpid()), sh) {
		t.Errorf("Children(this process) lacks the shell %d", sh)
	}
	tree := Tree(os.Getpid())
	if tree[0] != os.Getpid() || !slices.Contains(tree, sh) || !slices.Contains(tree, sleep[0]) {
		t.Errorf("Tree(this process) = %v, want it, the shell %d and its sleep %d", tree, sh, sleep[0])
	}
	if got := Tree(sh); !slices.Equal(got, []int{sh, sleep[0]}) {
		t.Errorf("Tree(shell) = %v, want [%d %d]", got, sh, sleep[0])
	}
}
