"""--threads 0: the threads a run takes from what the machine is doing now (issue 14)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from logicpo.training import config


def test_running_threads_reads_the_fourth_field():
    assert config.running_threads("1.50 0.80 0.30 7/812 40123\n") == 7
    with pytest.raises(ValueError, match="not a /proc/loadavg line"):
        config.running_threads("1.50 0.80 0.30")


def test_threads_for_leaves_busy_cores_alone():
    # 2 cores: idle -> both; one other runnable thread -> 1; more -> still at least 1
    assert [config.threads_for(2, b, 2) for b in (0.0, 0.4, 0.6, 1.0, 5.0)] == [2, 2, 1, 1, 1]
    assert config.threads_for(16, 0.0, 8) == 8  # never more than torch would use


def test_busy_elsewhere_without_proc_falls_back_to_the_load_average(monkeypatch):
    def no_file(*a, **k):
        raise FileNotFoundError("/proc/loadavg")
    monkeypatch.setattr("builtins.open", no_file)
    monkeypatch.setattr(config.os, "getloadavg", lambda: (3.25, 0.0, 0.0))
    assert config._busy_elsewhere(samples=2, gap=0.0) == 2.25


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/loadavg is Linux's")
def test_two_spinning_processes_count_as_busy_now():
    # the load average lags a minute; the runnable count sees these two at once
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)  # both started and running
        assert config._busy_elsewhere() >= 1.5
    finally:
        for p in spin:
            p.kill()
            p.wait()


def test_the_cap_is_omp_num_threads_not_the_last_setting(monkeypatch):
    import torch

    monkeypatch.setattr(config, "_busy_elsewhere", lambda: 0.0)
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(config, "_threads_per_core", lambda: 1)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # an earlier run in this process set 1: not a cap
    try:
        assert config.default_threads() == 4
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert config.default_threads() == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "many")
        assert config.default_threads() == 4
    finally:
        torch.set_num_threads(before)
