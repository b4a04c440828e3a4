//go:build linux

package benchkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcUsage is a process's CPU time so far and its memory.
type ProcUsage struct {
	CPU     time.Duration
	PeakRSS int64 // bytes: VmHWM, the high-water mark since start or ResetPeakRSS
	RSS     int64 // bytes: VmRSS now
}

// ReadProc reads /proc/<pid>/stat (utime + stime), VmHWM and VmRSS.
func ReadProc(pid int) (ProcUsage, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcUsage{}, err
	}
	// The command name may hold spaces; fields after it are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ProcUsage{}, errors.New("benchkit: unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return ProcUsage{}, errors.New("benchkit: unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return ProcUsage{}, errors.New("benchkit: unexpected /proc stat format")
	}
	u := ProcUsage{CPU: time.Duration(ut+st) * time.Second / time.Duration(ClockTicks())}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			u.PeakRSS = kB(rest)
		} else if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			u.RSS = kB(rest)
		}
	}
	return u, nil
}

// kB reads "  1234 kB" as bytes.
func kB(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "kB")), 10, 64)
	return n << 10
}

// ResetPeakRSS sets the process's VmHWM back to its current resident size
// (Linux: writing 5 to /proc/<pid>/clear_refs; needs the right to write
// there, e.g. the same user or root).
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// MachineBusy is the CPU time every process on the machine has used
// (/proc/stat: user, nice, system, steal).
func MachineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 8} { // not irq time, which no process is charged with
		n, _ := strconv.ParseInt(f[i], 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / time.Duration(ClockTicks())
}

// ChildAttr is for a child process a benchmark starts (the gateway, a
// store's server): its own process group, so a Ctrl-C reaches only the
// benchmark, which then stops the child in order; the kernel ends the
// child if the benchmark dies without cleaning up.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// SelfCPU is this process's CPU time so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ClockTicks is sysconf(_SC_CLK_TCK), asked of getconf once (100 on Linux
// in practice).
var ClockTicks = sync.OnceValue(func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

// Machine is what a report says about the machine.
type Machine struct {
	NProc  int    `json:"nproc"`
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// DescribeMachine reads /proc for the report.
func DescribeMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kB(rest))/(1<<30))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
