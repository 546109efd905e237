"""End to end: small models learn small synthetic problems with nn + optim
(fast, no data set needed)."""

import numpy as np

import autogradx as agx
import autogradx.optim as optim
from autogradx import nn


def accuracy(logits, y):
    return (logits.argmax(dim=1) == y).float().mean().item()


def test_mlp_learns_xor_like_quadrants():
    agx.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (200, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    x, y = agx.tensor(x, dtype=agx.float32), agx.tensor(y)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.03)
    sched = optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with agx.no_grad():
        assert accuracy(model(x), y) > 0.95
    assert opt.param_groups[0]["lr"] == 0.03 / 8


def test_cnn_tells_vertical_from_horizontal_bars():
    agx.manual_seed(1)
    rng = np.random.default_rng(1)
    images = np.zeros((64, 1, 6, 6), np.float32)
    labels = rng.integers(0, 2, 64)
    for image, label, pos in zip(images, labels, rng.integers(0, 6, 64)):
        if label:
            image[0, :, pos] = 1
        else:
            image[0, pos, :] = 1
    images += rng.normal(0, 0.1, images.shape).astype(np.float32)
    x, y = agx.tensor(images), agx.tensor(labels)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.LayerNorm(36), nn.Linear(36, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    with agx.no_grad():
        assert accuracy(model(x), y) == 1.0


def test_embedding_bag_of_words_classifier():
    """Class = whether token 0 appears: learnable from mean-pooled embeddings."""
    agx.manual_seed(2)
    rng = np.random.default_rng(2)
    tokens = rng.integers(1, 20, (100, 5))
    labels = rng.integers(0, 2, 100)
    tokens[labels == 1, 0] = 0
    embed, head = nn.Embedding(20, 8), nn.Linear(8, 2)
    opt = optim.RMSprop([*embed.parameters(), *head.parameters()], lr=0.02)
    x, y = agx.tensor(tokens), agx.tensor(labels)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(head(embed(x).mean(dim=1)), y).backward()
        opt.step()
    with agx.no_grad():
        assert accuracy(head(embed(x).mean(dim=1)), y) > 0.95
