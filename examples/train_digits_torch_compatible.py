"""The digits MLP written as a PyTorch script; with ``--backend autogradx`` the
same code runs on autogradx, ``import autogradx as torch`` being the only change.

    python examples/train_digits_torch_compatible.py --backend autogradx
    python examples/train_digits_torch_compatible.py --backend torch

Data loading (scikit-learn, NumPy) is shared; everything after the import is
PyTorch code as one would write it.
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--backend", choices=("autogradx", "torch"), default="autogradx")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "out"))
args = parser.parse_args()

if args.backend == "torch":
    import torch
else:
    import autogradx as torch
    import autogradx.optim  # noqa: F401  (until `import autogradx` imports optim, as torch does)

# -- data: NumPy arrays from scikit-learn --------------------------------------------------
digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.2, stratify=digits.target, random_state=args.seed)
rng = np.random.default_rng(args.seed)

# -- PyTorch code ------------------------------------------------------------------------------
torch.manual_seed(args.seed)
X_train, X_test = torch.tensor(X_train), torch.tensor(X_test)
y_train, y_test = torch.tensor(y_train, dtype=torch.long), torch.tensor(y_test, dtype=torch.long)

model = torch.nn.Sequential(
    torch.nn.Linear(64, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
)
loss_fn = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

for epoch in range(args.epochs):
    model.train()
    order = torch.from_numpy(rng.permutation(len(X_train)))
    for start in range(0, len(X_train), 32):
        idx = order[start:start + 32]
        optimizer.zero_grad()
        loss = loss_fn(model(X_train[idx]), y_train[idx])
        loss.backward()
        optimizer.step()

model.eval()
with torch.no_grad():
    accuracy = (model(X_test).argmax(dim=1) == y_test).float().mean().item()
print(f"{args.backend}: test accuracy {accuracy:.4f} after {args.epochs} epochs "
      f"(last batch loss {loss.item():.4f})")

os.makedirs(args.out_dir, exist_ok=True)
path = os.path.join(args.out_dir, f"digits_torch_compatible_{args.backend}.pt")
torch.save(model.state_dict(), path)
print(f"weights saved to {path}")
