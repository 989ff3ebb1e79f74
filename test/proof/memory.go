package proof

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mem is a process's resident memory, in bytes, from /proc/<pid>/status.
type Mem struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the most it has been resident
}

// ReadMem reads pid's VmRSS and VmHWM.
func ReadMem(pid int) (Mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	var m Mem
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.Peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("process %d: %s is %q: %w", pid, name, value, err)
		}
		*dst = kb << 10
	}
	if m.RSS == 0 || m.Peak == 0 {
		return Mem{}, fmt.Errorf("process %d: no VmRSS/VmHWM in /proc/%d/status", pid, pid)
	}
	return m, nil
}

// FindByName returns the one process among pids whose command name
// (/proc/<pid>/comm) is name: the bootstrap among a Function's processes.
func FindByName(pids []int, name string) (int, error) {
	var found []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == name {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%d processes named %q among %v, want 1", len(found), name, pids)
	}
	return found[0], nil
}

// MiB formats a byte count for reports.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
