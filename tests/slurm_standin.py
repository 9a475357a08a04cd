"""Stand-ins for SLURM's commands, for testing the SLURM profile without a cluster (FIXTURE).

Installed by the test as ``sbatch``, ``sacct``, ``squeue``, ``scancel``, ``srun``, ``sinfo``,
``scontrol``, ``sacctmgr`` and ``sshare`` on PATH. ``sbatch`` runs the submitted ``--wrap``
command as a detached local process and prints a job id (``--parsable`` style); ``sacct`` and
``squeue`` answer in SLURM's ``--parsable2``/``%i|%T`` formats from a state folder
(``SLURM_STANDIN_STATE``); ``srun`` runs its command in place.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ.get("SLURM_STANDIN_STATE", ".slurm-standin"))  # the test sets it


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and i + 1 < len(args):
                return args[i + 1]
    return None


def _next_job_id(counter: Path) -> int:
    """The next job id; sbatch calls run concurrently, so the counter is read and written under
    an exclusive lock (a bare read can see the file truncated by another call)."""
    import fcntl

    with open(counter.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = counter.read_text() if counter.exists() else ""
        job_id = int(text) + 1 if text else 1000
        counter.write_text(str(job_id))
    return job_id


def sbatch(args: list[str]) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    job_id = _next_job_id(STATE / "counter")
    command = _option(args, "--wrap")
    if command is None:  # script given on stdin (pass_command_as_script)
        command = sys.stdin.read()
    name = _option(args, "--job-name", "-J") or "job"
    workdir = _option(args, "--chdir", "-D") or os.getcwd()
    output = (_option(args, "--output", "-o") or f"slurm-{job_id}.out").replace("%j", str(job_id))
    cpus = _option(args, "--cpus-per-task", "-c") or "1"
    Path(workdir, output).parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SLURM_JOB_ID=str(job_id), SLURM_JOBID=str(job_id),
               SLURM_JOB_NAME=name, SLURM_CPUS_PER_TASK=cpus, SLURM_NTASKS="1",
               SLURM_CPUS_ON_NODE=cpus)
    rc_file = STATE / f"{job_id}.rc"
    with open(Path(workdir, output), "w") as log:
        proc = subprocess.Popen(["/bin/sh", "-c", f"{command}\necho $? > {rc_file}"], cwd=workdir,
                                env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    (STATE / f"{job_id}.json").write_text(json.dumps({"name": name, "pid": proc.pid}))
    with open(STATE / "sbatch.log", "a") as record:
        record.write(json.dumps({"id": job_id, "args": args}) + "\n")
    print(job_id)
    return 0


def _jobs(name: str | None):
    for meta in sorted(STATE.glob("*.json")):
        info = json.loads(meta.read_text())
        if name and info["name"] != name:
            continue
        rc_file = STATE / f"{meta.stem}.rc"
        if not rc_file.exists():
            state = "RUNNING"
        else:
            state = "COMPLETED" if rc_file.read_text().strip() == "0" else "FAILED"
        yield meta.stem, state


def main() -> int:
    tool, args = Path(sys.argv[1]).name, sys.argv[2:]
    if tool == "sbatch":
        return sbatch(args)
    if tool == "sacct":
        if "-nu" in args or "-u" in args:  # account lookup
            print("none")
            return 0
        for job_id, state in _jobs(_option(args, "--name")):
            print(f"{job_id}|{state}")
        return 0
    if tool == "squeue":
        for job_id, state in _jobs(_option(args, "--name")):
            print(f"{job_id}|{state}")
        return 0
    if tool == "scancel":
        for job_id in args:
            meta = STATE / f"{job_id}.json"
            if meta.exists():
                try:
                    os.killpg(json.loads(meta.read_text())["pid"], signal.SIGTERM)
                except ProcessLookupError:
                    pass
        return 0
    if tool == "srun":
        i = 0
        while i < len(args) and args[i].startswith("-"):
            i += 1
        os.execvp(args[i], args[i:])
    if tool == "scontrol":
        print("MinJobAge               = 300 sec")
        return 0
    return 0  # sinfo, sacctmgr, sshare: nothing to report


if __name__ == "__main__":
    sys.exit(main())
