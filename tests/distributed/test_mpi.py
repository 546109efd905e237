"""``autogradx.distributed`` across processes: the scripts beside this file run under
``mpiexec -n 2`` and ``-n 3`` (and ``-n 1``, a group of one) and check themselves against NumPy and single-process
training (a script that finds a mismatch exits non-zero). Skipped when mpi4py is not
installed (``pip install -e ".[distributed]"``)."""

import subprocess
import sys
import time

import pytest

pytest.importorskip("mpi4py", reason="autogradx.distributed needs mpi4py: "
                                     "pip install -e '.[distributed]'")

from distributed_ranks import MPIEXEC, SCRIPTS, assert_ran, run_ranks  # noqa: E402

pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpi4py is installed but no mpiexec "
                                "was found beside this Python or on PATH")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_collectives_match_numpy(n):
    assert_ran(run_ranks(n, "mpi_collectives.py"), n, "collectives")


def test_collectives_without_the_progress_thread():
    proc = run_ranks(2, "mpi_collectives.py", env={"AUTOGRADX_DIST_PROGRESS": "0"})
    assert_ran(proc, 2, "collectives")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ddp_matches_single_process_training(n):
    assert_ran(run_ranks(n, "mpi_ddp.py"), n, "ddp")


@pytest.mark.parametrize("how, says", [
    ("raise", "rank 1 of 2 failed with the ValueError above; ending all ranks (MPI_Abort)"),
    ("exit", "did not finish within its timeout of 3 s"),
    ("kill", "Killed (signal 9)"),
])
def test_a_failing_rank_ends_the_job_instead_of_hanging(how, says):
    start = time.monotonic()
    proc = run_ranks(2, "mpi_failure.py", how, timeout=120)
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    # mpiexec, ending the job, may drop what the ranks wrote last (seen on a loaded machine:
    # nothing at all, or a traceback cut off before its error line): the reason is checked
    # where that line came through.
    cut_short = not output.strip() or (output.lstrip().startswith("Traceback")
                                       and "Error" not in output)
    assert says in output or cut_short, output
    assert "finished an all_reduce without rank 1" not in proc.stdout
    assert elapsed < 60, f"the job took {elapsed:.0f} s to end"


def test_launcher_runs_a_script_on_n_ranks(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys, autogradx.distributed as dist\n"
                      "dist.init_process_group()\n"
                      "print(f'rank {dist.get_rank()} of {dist.get_world_size()} {sys.argv[1:]}',"
                      " flush=True)\n")
    proc = subprocess.run([sys.executable, "-m", "autogradx.distributed.run", "-n", "3",
                           str(script), "--flag", "x"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for r in range(3):
        assert f"rank {r} of 3 ['--flag', 'x']" in proc.stdout


@pytest.mark.parametrize("n", [2, 3])
def test_train_digits_distributed_trains_the_single_process_model(n, tmp_path):
    pytest.importorskip("sklearn", reason="the digits example needs scikit-learn")
    import numpy as np

    import autogradx
    example = SCRIPTS.parent.parent / "examples" / "train_digits.py"
    common = [str(example), "--epochs", "2", "--seed", "3"]
    single = subprocess.run([sys.executable, *common, "--out-dir", str(tmp_path / "one")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    ranks = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *common, "--distributed",
                            "--out-dir", str(tmp_path / "ddp")],
                           capture_output=True, text=True, timeout=300)
    assert ranks.returncode == 0, ranks.stdout + ranks.stderr
    assert ranks.stdout.count("test accuracy:") == 1, ranks.stdout      # rank 0 reports
    assert f"{n} ranks" in ranks.stdout
    one = autogradx.load(str(tmp_path / "one" / "digits_mlp.agx"))
    ddp = autogradx.load(str(tmp_path / "ddp" / "digits_mlp.agx"))
    assert sorted(one) == sorted(ddp)
    for name in one:
        np.testing.assert_allclose(ddp[name].numpy(), one[name].numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
