package proc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parents maps every process on the machine to its parent, read from
// /proc/PID/stat ("pid (comm) state ppid …"; comm may hold spaces and
// parentheses). A process that ends during the walk is left out.
func parents() map[int]int {
	out := map[int]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		head, rest, _ := strings.Cut(string(b), " (")
		f := strings.Fields(rest[strings.LastIndexByte(rest, ')')+1:])
		pid, err := strconv.Atoi(head)
		if err != nil || len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			out[pid] = ppid
		}
	}
	return out
}

// Children lists the processes whose parent is pid.
func Children(pid int) []int {
	var kids []int
	for p, pp := range parents() {
		if pp == pid {
			kids = append(kids, p)
		}
	}
	return kids
}

// Tree lists root and every process descended from it.
func Tree(root int) []int {
	children := map[int][]int{}
	for p, pp := range parents() {
		children[pp] = append(children[pp], p)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}
