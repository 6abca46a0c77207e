package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// cpuSeconds is the user plus system CPU time a process has used, from /proc/PID/stat; with
// children, that of its children that have ended and been waited for (cutime, cstime).
func cpuSeconds(pid int, children bool) (float64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	i := 11 // utime, stime: fields 14, 15
	if children {
		i = 13 // cutime, cstime: fields 16, 17
	}
	u, err1 := strconv.ParseFloat(f[i], 64)
	s, err2 := strconv.ParseFloat(f[i+1], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %q %q", pid, f[i], f[i+1])
	}
	return (u + s) / clockTicks, nil
}

// memKiB reads one "Name:  N kB" line of /proc/PID/status (VmRSS, VmHWM).
func memKiB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			v := strings.Fields(rest)
			if len(v) == 0 {
				break
			}
			return strconv.ParseInt(v[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// procGroup is a set of processes measured together (the workers; the server and its
// database), with the peak of their summed resident memory as sampled.
type procGroup struct {
	pids []int
	// withChildren counts the processes' children too (PostgreSQL's backends), and the CPU
	// of children that have ended (cutime, cstime)
	withChildren bool
	mu           sync.Mutex
	peakKiB      int64
}

// sample reads the group's current resident memory and keeps the peak of the sum; the peak
// of each process alone is VmHWM, which the kernel keeps exactly.
func (g *procGroup) sample() {
	var sum int64
	for _, pid := range g.members() {
		if v, err := memKiB(pid, "VmRSS"); err == nil {
			sum += v
		}
	}
	g.mu.Lock()
	g.peakKiB = max(g.peakKiB, sum)
	g.mu.Unlock()
}

// hwmKiB is the sum of the processes' own peaks (VmHWM): at least the sampled peak of the sum.
func (g *procGroup) hwmKiB() int64 {
	var sum int64
	for _, pid := range g.pids {
		if v, err := memKiB(pid, "VmHWM"); err == nil {
			sum += v
		}
	}
	return sum
}

func (g *procGroup) cpu() float64 {
	var sum float64
	for _, pid := range g.members() {
		if v, err := cpuSeconds(pid, false); err == nil {
			sum += v
		}
	}
	if g.withChildren {
		for _, pid := range g.pids {
			if v, err := cpuSeconds(pid, true); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// members are the group's processes and, withChildren, their children now.
func (g *procGroup) members() []int {
	if !g.withChildren {
		return g.pids
	}
	parent := map[int]bool{}
	for _, p := range g.pids {
		parent[p] = true
	}
	out := append([]int(nil), g.pids...)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parent[pid] {
			continue
		}
		if pp, err := ppid(pid); err == nil && parent[pp] {
			out = append(out, pid)
		}
	}
	return out
}

func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// the command name (field 2) may hold spaces: fields are counted after its ')'
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	return f, nil
}

func ppid(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(f[1]) // field 4
}

// sampleEvery samples every group until stop is closed.
func sampleEvery(d time.Duration, stop <-chan struct{}, groups ...*procGroup) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		for _, g := range groups {
			g.sample()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// parsePIDs reads a comma-separated list of process ids.
func parsePIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("-server-pids: %q is not a process id", f)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil, fmt.Errorf("-server-pids: process %d: %w", pid, err)
		}
		out = append(out, pid)
	}
	return out, nil
}
