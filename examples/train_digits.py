"""Train a classifier on scikit-learn's 8x8 handwritten digits with autogradx.

    python examples/train_digits.py                 # MLP 64-128-10, Adam (lr 3e-3), 20 epochs
    python examples/train_digits.py --model cnn     # a small Conv2d network
    python examples/train_digits.py --epochs 5 --seed 1 --out-dir /tmp/digits
    mpiexec -n 2 python examples/train_digits.py --distributed   # data-parallel over MPI

Prints the test accuracy, saves the weights with ``autogradx.save`` and draws
the loss and accuracy per epoch to a PNG. Needs scikit-learn (the data set
ships with it) and, for the plot, matplotlib; tqdm draws the progress bar if
it is installed.

With ``--distributed`` (under ``mpiexec -n N`` or ``python -m autogradx.distributed.run
-n N``) every rank takes its share of each global batch of ``--batch-size`` images and
``DistributedDataParallel`` averages the gradients: the trained model is the one a single
process gets on the same batches (within float rounding). Rank 0 alone draws the progress
bar, prints and saves. Needs ``pip install "autogradx[distributed]"``.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

import autogradx
import autogradx.optim
from autogradx import nn

DEFAULT_OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where a backend provides it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the ranks of an MPI job (docs/distributed.md)")
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                        help="where the weights and the plot go (default: examples/out)")
    return parser.parse_args(argv)


def load_digits(seed):
    """The 1797 digits as float32 pixels in [0, 1] and int64 labels, split 80/20
    with each class in proportion."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)


def build_model(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    # 1x8x8 -> 16x8x8 -> 16x4x4 -> 32x4x4 -> 32x2x2 -> 10
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10),
    )


def pick_device(name):
    """``name`` if a backend provides it, else the CPU (saying why)."""
    try:
        autogradx.zeros(1, device=name)
        return name
    except RuntimeError as exc:
        print(f"--device {name}: not available ({exc}); using cpu", file=sys.stderr)
        return "cpu"


class SimpleBar:
    """A minimal stand-in for tqdm: ``[#####.....] 5/10 loss=0.1``, redrawn in place."""

    def __init__(self, iterable, desc=""):
        self.items = list(iterable)
        self.desc = desc
        self.postfix = ""

    def __iter__(self):
        for i, item in enumerate(self.items):
            yield item
            self._draw(i + 1)
        print(file=sys.stderr)

    def set_postfix(self, **values):
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def _draw(self, done):
        width = 20
        filled = width * done // len(self.items)
        print(f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] {done}/{len(self.items)} "
              f"{self.postfix}", end="", file=sys.stderr, flush=True)


class SilentBar:
    """The progress bar of ranks other than 0: iterates, draws nothing."""

    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **values):
        pass


def progress(iterable, desc):
    try:
        from tqdm import tqdm
    except ImportError:
        return SimpleBar(iterable, desc)
    return tqdm(iterable, desc=desc)


def batches(X, y, batch_size, rng, device, rank=0, world_size=1):
    """(images, labels, global batch size): this rank's share of each global batch. Every
    rank draws the same order from the same seed."""
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size][rank::world_size]
        yield (autogradx.tensor(X[idx], device=device), autogradx.tensor(y[idx], device=device),
               min(batch_size, len(X) - start))


def evaluate(model, X, y):
    """(mean loss, accuracy) over the whole of ``X``, in eval mode, recording nothing."""
    model.eval()
    with autogradx.no_grad():
        logits = model(X)
        loss = nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    model.train()
    return loss, accuracy


def plot_history(history, path):
    """Loss and accuracy per epoch, train and test, side by side, to a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "test"):
        ax_loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
        ax_acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    rank, world_size = 0, 1
    if args.distributed:
        import autogradx.distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("mpi")
        rank, world_size = dist.get_rank(), dist.get_world_size()
    autogradx.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = pick_device(args.device)

    X_train, X_test, y_train, y_test = load_digits(args.seed)
    if args.model == "cnn":
        X_train, X_test = X_train.reshape(-1, 1, 8, 8), X_test.reshape(-1, 1, 8, 8)
    model = build_model(args.model).to(device)
    # Under DDP, the wrapper trains; ``model`` (the same parameters) is evaluated and saved.
    trained = nn.parallel.DistributedDataParallel(model) if args.distributed else model
    optimizer = autogradx.optim.Adam(trained.parameters(), lr=args.lr)
    # Per-image losses summed, divided by the global batch size: the mean over the global
    # batch, also when the last batch does not split evenly (DDP then averages the ranks'
    # gradients, hence the factor world_size).
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    say = print if rank == 0 else (lambda *a, **k: None)
    say(model)
    say(f"{len(X_train)} training and {len(X_test)} test images, "
        f"{sum(p.numel() for p in model.parameters())} parameters, device {device}"
        + (f", {world_size} ranks" if args.distributed else ""))

    X_train_t, y_train_t = (autogradx.tensor(a, device=device) for a in (X_train, y_train))
    X_test_t, y_test_t = (autogradx.tensor(a, device=device) for a in (X_test, y_test))
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    start = time.perf_counter()
    epochs = range(args.epochs)
    bar = progress(epochs, desc=f"{args.model} epochs") if rank == 0 else SilentBar(epochs)
    for _ in bar:
        for xb, yb, global_batch in batches(X_train, y_train, args.batch_size, rng, device,
                                            rank, world_size):
            optimizer.zero_grad()
            loss = loss_fn(trained(xb), yb) * (world_size / global_batch)
            loss.backward()
            optimizer.step()
        for split, (X, y) in (("train", (X_train_t, y_train_t)), ("test", (X_test_t, y_test_t))):
            split_loss, split_acc = evaluate(model, X, y)
            history[f"{split}_loss"].append(split_loss)
            history[f"{split}_acc"].append(split_acc)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.4f}",
                        test_acc=f"{history['test_acc'][-1]:.4f}")
    elapsed = time.perf_counter() - start

    accuracy = history["test_acc"][-1] if history["test_acc"] else math.nan
    if rank != 0:
        return accuracy
    print(f"test accuracy: {accuracy:.4f} ({round(accuracy * len(X_test))}/{len(X_test)}) "
          f"after {args.epochs} epochs in {elapsed:.1f} s")
    os.makedirs(args.out_dir, exist_ok=True)
    weights = os.path.join(args.out_dir, f"digits_{args.model}.agx")
    autogradx.save(model.state_dict(), weights)
    print(f"weights saved to {weights}")
    try:
        plot = os.path.join(args.out_dir, f"digits_{args.model}.png")
        plot_history(history, plot)
        print(f"plot saved to {plot}")
    except ImportError:
        print("matplotlib is not installed: no plot drawn", file=sys.stderr)
    return accuracy


if __name__ == "__main__":
    main()
