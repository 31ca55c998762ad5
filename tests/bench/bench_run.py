#!/usr/bin/env python3
"""Runs one command and prints its wall time, CPU time and peak RSS, for agent_bench.sh.

Usage: bench_run.py [--stdout FILE] [--stderr FILE] -- COMMAND [ARG...]
Prints one line: "wall_ms=12.34 cpu_ms=10.01 maxrss_kb=5678 exit=0".
 - cpu_ms: user plus system time of the command and the processes it waited for; on a
   loaded machine it varies less than wall time.
 - maxrss_kb: GNU time's %M, the largest resident set of the command or of any process it
   waited for (the agent's iptables-restore, ip, wg). The command runs under /usr/bin/time
   because Linux carries a process's peak RSS across exec: a child forked from this Python
   process would report at least Python's own RSS. 0 when GNU time gives no usable figure.
The command's exit code is reported, not returned: this script exits 0 unless it cannot
start the command.
"""

import os
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"
# GNU time has been seen to print a garbage %M now and then (e.g. 135487072).
MAX_PLAUSIBLE_RSS_KB = 64 << 20


def main(argv):
    stdout_path = os.devnull
    stderr_path = os.devnull
    while argv and argv[0] != "--":
        option = argv.pop(0)
        if option == "--stdout" and argv:
            stdout_path = argv.pop(0)
        elif option == "--stderr" and argv:
            stderr_path = argv.pop(0)
        else:
            sys.exit("bench_run.py: unknown option %r (usage: bench_run.py [--stdout F] [--stderr F] -- CMD...)" % option)
    if len(argv) < 2:
        sys.exit("bench_run.py: no command after --")
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit("bench_run.py: %s is not installed (Debian package 'time'; make deps installs it)" % GNU_TIME)

    with tempfile.NamedTemporaryFile(mode="r", prefix="bench-rss-") as rss_file, \
            open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        command = [GNU_TIME, "-f", "%M", "-o", rss_file.name, "--"] + argv[1:]
        start = time.perf_counter_ns()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.execv(command[0], command)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        wall_ns = time.perf_counter_ns() - start
        # GNU time writes "Command exited with non-zero status N" before the figure.
        lines = rss_file.read().split()
        maxrss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    if maxrss_kb > MAX_PLAUSIBLE_RSS_KB:
        maxrss_kb = 0
    exit_code = os.waitstatus_to_exitcode(status)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    print("wall_ms=%.2f cpu_ms=%.2f maxrss_kb=%d exit=%d" % (wall_ns / 1e6, cpu_ms, maxrss_kb, exit_code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
