"""The digits examples run end to end (they need scikit-learn, which ships the data)."""

import contextlib
import importlib.util
import io
import os
import runpy
import sys

import pytest

pytest.importorskip("sklearn")

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def train_digits():
    return runpy.run_path(os.path.join(EXAMPLES, "train_digits.py"), run_name="train_digits")


@pytest.fixture(scope="module")
def mlp_run(train_digits, tmp_path_factory):
    """The MLP trained once with the defaults: (accuracy, output folder, stdout)."""
    out_dir = tmp_path_factory.mktemp("digits")
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        accuracy = train_digits["main"](["--out-dir", str(out_dir), "--seed", "0"])
    return accuracy, out_dir, capture.getvalue()


def test_mlp_reaches_97_percent(mlp_run):
    accuracy, out_dir, out = mlp_run
    assert accuracy >= 0.97
    assert f"test accuracy: {accuracy:.4f}" in out
    assert f"weights saved to {out_dir / 'digits_mlp.agx'}" in out
    if HAS_MATPLOTLIB:
        assert f"plot saved to {out_dir / 'digits_mlp.png'}" in out
        assert (out_dir / "digits_mlp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saved_weights_load_into_the_model(train_digits, mlp_run):
    import autogradx as agx
    model = train_digits["build_model"]("mlp")
    assert repr(model.load_state_dict(agx.load(mlp_run[1] / "digits_mlp.agx"))) == \
        "<All keys matched successfully>"


def test_cnn_runs(train_digits, tmp_path):
    assert train_digits["main"](["--model", "cnn", "--epochs", "1",
                                 "--out-dir", str(tmp_path)]) > 0.5
    assert os.path.exists(tmp_path / "digits_cnn.agx")


def test_cuda_is_reported_unavailable(train_digits, tmp_path, capsys):
    train_digits["main"](["--device", "cuda", "--epochs", "1", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert "--device cuda: not available" in err and "using cpu" in err


def test_progress_bar_without_tqdm(train_digits, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)      # makes `import tqdm` fail
    bar = train_digits["progress"](range(4), desc="epochs")
    assert isinstance(bar, train_digits["SimpleBar"])
    for _ in bar:
        bar.set_postfix(loss="0.5")
    assert "epochs [####################] 4/4 loss=0.5" in capsys.readouterr().err


def run_compatible(backend, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train_digits_torch_compatible.py", "--backend", backend,
                                      "--epochs", "4", "--out-dir", str(tmp_path)])
    return runpy.run_path(os.path.join(EXAMPLES, "train_digits_torch_compatible.py"),
                          run_name="__main__")


def test_torch_compatible_script_on_autogradx(tmp_path, monkeypatch):
    result = run_compatible("autogradx", tmp_path, monkeypatch)
    assert result["torch"].__name__ == "autogradx"
    assert result["accuracy"] > 0.9
    assert os.path.exists(tmp_path / "digits_torch_compatible_autogradx.pt")


@pytest.mark.torch
def test_torch_compatible_script_on_torch(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # a small model: threads only contend on busy cores
    try:
        result = run_compatible("torch", tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)
    assert result["torch"].__name__ == "torch"
    assert result["accuracy"] > 0.9
