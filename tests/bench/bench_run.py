#!/usr/bin/env python3
"""Runs one command and prints its wall time and peak RSS, for tests/bench/agent_bench.sh.

Usage: bench_run.py [--stdout FILE] [--stderr FILE] -- COMMAND [ARG...]
Prints one line: "wall_ms=12.34 cpu_ms=10.01 maxrss_kb=5678 exit=0". cpu_ms is user plus
system time of the command and the processes it waited for: on a loaded machine it varies
less than wall time. maxrss_kb comes from wait4() on
the child, like /usr/bin/time's %M: the largest resident set of the command or of any
process it waited for (the agent's iptables-restore, ip, wg), so it bounds the agent's own.
The command's exit code is reported, not returned: this script exits 0 unless it cannot
start the command.
"""

import os
import sys
import time


def main(argv):
    stdout_path = os.devnull
    stderr_path = None
    while argv and argv[0] != "--":
        option = argv.pop(0)
        if option == "--stdout" and argv:
            stdout_path = argv.pop(0)
        elif option == "--stderr" and argv:
            stderr_path = argv.pop(0)
        else:
            sys.exit("bench_run.py: unknown option %r (usage: bench_run.py [--stdout F] [--stderr F] -- CMD...)" % option)
    if not argv or len(argv) < 2:
        sys.exit("bench_run.py: no command after --")
    command = argv[1:]

    with open(stdout_path, "wb") as out, open(stderr_path or os.devnull, "wb") as err:
        start = time.perf_counter_ns()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(out.fileno(), 1)
                if stderr_path:
                    os.dup2(err.fileno(), 2)
                os.execvp(command[0], command)
            except OSError as error:
                os.write(2, ("bench_run.py: cannot run %s: %s\n" % (command[0], error)).encode())
            os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        wall_ns = time.perf_counter_ns() - start
    exit_code = os.waitstatus_to_exitcode(status)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    print("wall_ms=%.2f cpu_ms=%.2f maxrss_kb=%d exit=%d" % (wall_ns / 1e6, cpu_ms, usage.ru_maxrss, exit_code))
    return 0 if exit_code != 127 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
