package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, 100 on Linux.
const clockTicks = 100

// ProcUsage is the CPU time and peak resident memory of a process tree.
type ProcUsage struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
}

// procCPU returns the CPU time of pid and of its waited-for children.
func procCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := raw[bytes.LastIndexByte(raw, ')')+2:]
	f := strings.Fields(string(rest))
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// procHWM returns the peak resident set size of pid in bytes.
func procHWM(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pidsNamed returns the pids whose command name is name.
func pidsNamed(name string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}

// Meter samples the CPU time of named process groups at Start and Stop.
// Postgres backends come and go: their CPU is counted through the
// postmaster's cutime/cstime once they exit, and directly while they live.
//
// With PostgresPIDs set, Postgres is measured by process instead: the CPU
// each process it names at Stop used since Start (all of it for one
// started since), so that other databases' load on a shared server is left
// out.
type Meter struct {
	// PostgresPIDs returns the Postgres processes that serve the measured
	// hookd; nil: every postgres process counts.
	PostgresPIDs func() []int

	groups   map[string][]int
	start    map[string]time.Duration
	startPID map[int]time.Duration
}

// NewMeter measures the given processes by group name ("hookd": pids) plus
// the local postgres and redis-server processes.
func NewMeter(groups map[string][]int) *Meter {
	m := &Meter{groups: map[string][]int{}, start: map[string]time.Duration{}}
	for k, v := range groups {
		m.groups[k] = v
	}
	return m
}

func (m *Meter) cpu(name string) time.Duration {
	if name == "postgres" && m.PostgresPIDs != nil && m.startPID != nil {
		var total time.Duration
		for _, pid := range m.PostgresPIDs() {
			if d, err := procCPU(pid); err == nil {
				total += d - m.startPID[pid]
			}
		}
		return total
	}
	pids := m.groups[name]
	if name == "postgres" || name == "redis-server" {
		pids = pidsNamed(name)
	}
	var total time.Duration
	for _, pid := range pids {
		if d, err := procCPU(pid); err == nil {
			total += d
		}
	}
	return total
}

func (m *Meter) names() []string {
	names := []string{"postgres", "redis-server"}
	for k := range m.groups {
		names = append(names, k)
	}
	return names
}

// Start records the starting CPU times.
func (m *Meter) Start() {
	m.startPID = nil
	if m.PostgresPIDs != nil {
		starts := map[int]time.Duration{}
		for _, pid := range pidsNamed("postgres") {
			if d, err := procCPU(pid); err == nil {
				starts[pid] = d
			}
		}
		m.startPID = starts // so that postgres starts near 0 below
	}
	for _, n := range m.names() {
		m.start[n] = m.cpu(n)
	}
}

// Stop returns the CPU used since Start and the peak RSS of each group: the
// sum over its processes, except for postgres, whose backends share memory,
// where it is the largest backend's.
// Exited postgres backends that were not yet waited for are not counted.
func (m *Meter) Stop() []ProcUsage {
	var out []ProcUsage
	for _, n := range m.names() {
		pids := m.groups[n]
		if n == "postgres" || n == "redis-server" {
			pids = pidsNamed(n)
		}
		var peak int64
		for _, pid := range pids {
			if n == "postgres" {
				peak = max(peak, procHWM(pid))
			} else {
				peak += procHWM(pid)
			}
		}
		out = append(out, ProcUsage{
			Name:       n,
			CPUSeconds: (m.cpu(n) - m.start[n]).Seconds(),
			PeakRSSMiB: float64(peak) / (1 << 20),
		})
	}
	return out
}
