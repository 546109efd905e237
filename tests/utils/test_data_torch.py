"""utils.data against torch.utils.data where the behaviour is deterministic: the batches
of unshuffled loaders, collation of nested structures (values, dtypes, container types),
the len() rules, random_split's lengths and the error texts."""

import collections
import math
import warnings

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

LIBS = (agx, torch)
Point = collections.namedtuple("Point", "x y")


def same(a, t, where="batch"):
    """``a`` (from autogradx) has the structure, types, dtypes and values of ``t`` (from
    PyTorch)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(a, agx.Tensor), f"{where}: {type(a).__name__}, torch gives a tensor"
        assert str(a.dtype) == str(t.dtype), f"{where}: {a.dtype} != {t.dtype}"
        assert tuple(a.shape) == tuple(t.shape), f"{where}: {tuple(a.shape)} != {tuple(t.shape)}"
        np.testing.assert_array_equal(a.numpy(), t.numpy(), err_msg=where)
    elif isinstance(t, (dict, list, tuple)):
        assert type(a) is type(t), f"{where}: {type(a).__name__} != {type(t).__name__}"
        keys = list(t) if isinstance(t, dict) else range(len(t))
        assert (list(a) if isinstance(a, dict) else range(len(a))) == keys, where
        for k in keys:
            same(a[k], t[k], f"{where}[{k!r}]")
    else:
        assert a == t and type(a) is type(t), f"{where}: {a!r} != {t!r}"


def data(lib):
    return lib.utils.data


# Datasets built the same way over either library (a function of the library).
DATASETS = {
    "tensors": lambda lib: data(lib).TensorDataset(lib.arange(14.0).reshape(7, 2),
                                                     lib.arange(7)),
    "numbers": lambda lib: [(i, i / 2, i % 2 == 0) for i in range(7)],
    "dicts": lambda lib: [{"x": np.full((2,), i, np.float32), "label": i, "name": f"s{i}"}
                          for i in range(7)],
    "namedtuples": lambda lib: [Point(np.int16(i), [float(i), np.float64(-i)]) for i in range(7)],
    "nested": lambda lib: [{"a": (lib.ones(3) * i, {"b": [i, np.arange(2)]})} for i in range(7)],
    "stack-dict": lambda lib: data(lib).StackDataset(num=list(range(7)), tag=list("abcdefg")),
    "stack-tuple": lambda lib: data(lib).StackDataset(data(lib).TensorDataset(lib.arange(7)),
                                                      list("abcdefg")),
    "concat": lambda lib: data(lib).ConcatDataset([list(range(3)), [10.5, 11.5],
                                                   np.arange(2, dtype=np.int32)]),
    "subset": lambda lib: data(lib).Subset(list(np.arange(10.0)), [9, 0, 4, 4, 2, 1, 7]),
}


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True),
                                                   (None, False), (7, False), (10, True)])
@pytest.mark.parametrize("name", list(DATASETS))
def test_unshuffled_batches_match(name, batch_size, drop_last):
    make = DATASETS[name]
    a = list(agx.utils.data.DataLoader(make(agx), batch_size=batch_size, drop_last=drop_last))
    t = list(torch.utils.data.DataLoader(make(torch), batch_size=batch_size,
                                         drop_last=drop_last))
    same(a, t)


def iterable(lib, start, stop, sized=True):
    base = data(lib).IterableDataset

    class Stream(base):
        def __init__(self):
            self.start, self.stop = start, stop

        def __iter__(self):
            return iter(range(self.start, self.stop))

    if sized:
        Stream.__len__ = lambda self: self.stop - self.start
    return Stream()


def shard(lib):
    """PyTorch's documented worker_init_fn: each worker takes one contiguous part."""
    def init(worker_id):
        info = data(lib).get_worker_info()
        ds = info.dataset
        per_worker = int(math.ceil((ds.stop - ds.start) / float(info.num_workers)))
        ds.start = ds.start + worker_id * per_worker
        ds.stop = min(ds.start + per_worker, ds.stop)
    return init


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_sharded_iterable_dataset_with_workers_matches():
    def run(lib, **kw):
        return list(data(lib).DataLoader(iterable(lib, 3, 7), **kw))

    for kw in [dict(num_workers=0), dict(num_workers=2, worker_init_fn=True),
               dict(num_workers=2, batch_size=None, worker_init_fn=True)]:
        got = {lib: run(lib, **{**kw, "worker_init_fn": shard(lib)} if "worker_init_fn" in kw
                        else kw) for lib in LIBS}
        same(got[agx], got[torch], str(kw))


BATCHES = [
    [1.5, 2.0, -3.25],
    [1, 2, 3],
    [True, False],
    [np.float32(1.5), np.float32(2)],
    [np.int16(1), np.int32(2)],
    [np.int64(1), np.float32(2)],
    [np.uint8(3), np.int8(-1)],
    [np.arange(4, dtype=np.float16).reshape(2, 2)] * 3,
    [np.array(5, np.int8), np.array(6, np.int8)],
    ["a", "bc"],
    [b"x", b"y"],
    [(1, 2.0, "s"), (3, 4.0, "t")],
    [[1, [2, 3.0]], [4, [5, 6.0]]],
    [{"a": 1, "b": {"c": 2.5, "d": np.ones(2, np.int32)}}] * 2,
    [Point(1, 2.0), Point(3, 4.0)],
    [Point(np.zeros(2), {"k": [True]})] * 2,
    [collections.OrderedDict(z=1, a=2)] * 2,
]


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: type(b[0]).__name__)
def test_default_collate_matches(batch):
    same(agx.utils.data.default_collate(batch), torch.utils.data.default_collate(batch))


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: type(b[0]).__name__)
def test_default_convert_matches(batch):
    for sample in batch:
        same(agx.utils.data.default_convert(sample), torch.utils.data.default_convert(sample))


def test_collate_of_tensors_matches():
    for lib_batch in [lambda lib: [lib.ones(2, 3), lib.zeros(2, 3)],
                      lambda lib: [lib.tensor(1), lib.tensor(2)],
                      lambda lib: [lib.ones(2, dtype=lib.float64), lib.ones(2)],
                      lambda lib: [(lib.ones(1), 1.0)] * 2]:
        same(agx.utils.data.default_collate(lib_batch(agx)),
             torch.utils.data.default_collate(lib_batch(torch)))


def both_raise(fn):
    """``fn(lib)`` raises the same exception type with the same text in both libraries."""
    raised = {}
    for lib in LIBS:
        with pytest.raises(Exception) as info:
            fn(lib)
        raised[lib] = info.value
    assert type(raised[agx]) is type(raised[torch]), raised
    assert str(raised[agx]) == str(raised[torch])


@pytest.mark.parametrize("batch", [
    [[1, 2], [3]], [object(), object()], [np.array(["a"]), np.array(["b"])],
    [np.array([object()])] * 2,
], ids=["unequal", "object", "str-array", "object-array"])
def test_collate_errors_match(batch):
    both_raise(lambda lib: data(lib).default_collate(batch))


LOADER_ERRORS = {
    "negative-workers": dict(num_workers=-1),
    "negative-timeout": dict(timeout=-1),
    "prefetch-without-workers": dict(prefetch_factor=2),
    "negative-prefetch": dict(num_workers=1, prefetch_factor=-1),
    "persistent-without-workers": dict(persistent_workers=True),
    "sampler-and-shuffle": dict(sampler=[0, 1], shuffle=True),
    "batch-sampler-and-batch-size": dict(batch_sampler=[[0]], batch_size=2),
    "batch-sampler-and-shuffle": dict(batch_sampler=[[0]], shuffle=True),
    "batch-sampler-and-sampler": dict(batch_sampler=[[0]], sampler=[0]),
    "batch-sampler-and-drop-last": dict(batch_sampler=[[0]], drop_last=True),
    "no-batching-and-drop-last": dict(batch_size=None, drop_last=True),
    "context-without-workers": dict(multiprocessing_context="spawn"),
    "unknown-context": dict(num_workers=1, multiprocessing_context="nope"),
    "bad-context": dict(num_workers=1, multiprocessing_context=3),
    "batch-size-zero": dict(batch_size=0),
    "drop-last-not-bool": dict(drop_last=1),
}


@pytest.mark.parametrize("kwargs", list(LOADER_ERRORS.values()), ids=list(LOADER_ERRORS))
def test_loader_argument_errors_match(kwargs):
    both_raise(lambda lib: data(lib).DataLoader(list(range(4)), **kwargs))


@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0]),
                                    dict(batch_sampler=[[0]])], ids=str)
def test_iterable_dataset_argument_errors_match(kwargs):
    both_raise(lambda lib: data(lib).DataLoader(iterable(lib, 0, 3), **kwargs))


@pytest.mark.parametrize("make", [
    lambda lib: data(lib).DataLoader(list(range(3))).__setattr__("batch_size", 2),
    lambda lib: data(lib).DataLoader(list(range(3))).__setattr__("dataset", []),
    lambda lib: data(lib).BatchSampler(range(3), 0, False),
    lambda lib: data(lib).BatchSampler(range(3), 2, 1),
    lambda lib: data(lib).RandomSampler(range(3), replacement=1),
    lambda lib: data(lib).RandomSampler(range(3), num_samples=0),
    lambda lib: data(lib).RandomSampler([]),
    lambda lib: data(lib).WeightedRandomSampler([1.0], 0),
    lambda lib: data(lib).WeightedRandomSampler([1.0], 1, replacement=1),
    lambda lib: data(lib).WeightedRandomSampler([[1.0]], 1),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, -1.0], 1)),
    lambda lib: list(data(lib).WeightedRandomSampler([0.0, 0.0], 1)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, float("inf")], 1)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, 1.0], 3, replacement=False)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, float("inf")], 3, replacement=False)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, -1.0, 2.0], 2)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, float("inf")], 2)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, float("nan")], 2)),
    lambda lib: list(data(lib).WeightedRandomSampler([1.0, float("nan")], 2, replacement=False)),
    lambda lib: list(data(lib).WeightedRandomSampler([0.0, 0.0], 2, replacement=False)),
    lambda lib: data(lib).TensorDataset(lib.zeros(2), lib.zeros(3)),
    lambda lib: data(lib).StackDataset(),
    lambda lib: data(lib).StackDataset([1], b=[2]),
    lambda lib: data(lib).StackDataset([1], [2, 3]),
    lambda lib: data(lib).ConcatDataset([]),
    lambda lib: data(lib).ConcatDataset([[1]])[-2],
    lambda lib: data(lib).ConcatDataset([iterable(lib, 0, 1)]),
    lambda lib: list(data(lib).ChainDataset([[1]])),
    lambda lib: data(lib).random_split(range(5), [2, 2]),
    lambda lib: data(lib).random_split(range(5), [0.5, 0.7, -0.2]),
    lambda lib: len(data(lib).DataLoader(iterable(lib, 0, 3, sized=False))),
    lambda lib: iter(data(lib).DataLoader([1], timeout=1)),
    lambda lib: data(lib).Dataset()[0],
])
def test_other_errors_match(make):
    both_raise(make)


@pytest.mark.parametrize("n, batch_size, drop_last", [
    (10, 1, False), (10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True),
    (0, 4, False), (10, None, False),
])
def test_len_rules_match(n, batch_size, drop_last):
    def lengths(lib):
        d = data(lib)
        return [len(d.DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last)),
                len(d.DataLoader(iterable(lib, 0, n), batch_size=batch_size,
                                 drop_last=drop_last)),
                len(d.DataLoader(list(range(n)), batch_size=batch_size, drop_last=drop_last,
                                 sampler=list(range(n // 2))))]
    assert lengths(agx) == lengths(torch)


def test_len_with_batch_sampler_and_samplers_match():
    def lengths(lib):
        d = data(lib)
        return [len(d.DataLoader(range(10), batch_sampler=[[0, 1], [2], [3]])),
                len(d.BatchSampler(d.SequentialSampler(range(10)), 4, False)),
                len(d.RandomSampler(range(10), replacement=True, num_samples=25)),
                len(d.RandomSampler(range(10), num_samples=25)),
                len(d.SubsetRandomSampler([4, 2, 9])),
                len(d.WeightedRandomSampler([1.0, 2.0], 7)),
                len(d.DataLoader(range(10), batch_size=4, shuffle=True)),
                len(d.ConcatDataset([range(3), range(4)])),
                len(d.ChainDataset([iterable(lib, 0, 3), iterable(lib, 5, 6)])),
                list(d.BatchSampler(range(7), 3, False)),
                list(d.BatchSampler(range(7), 3, True)),
                list(d.SequentialSampler(range(4)))]
    assert lengths(agx) == lengths(torch)


@pytest.mark.parametrize("n, lengths", [
    (10, [3, 7]), (10, [0.3, 0.3, 0.4]), (11, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]),
    (3, [0.1, 0.1, 0.8]), (100, [0.33, 0.33, 0.34]), (5, [1.0]), (1, [0.5, 0.5]),
    (10, [0.1] * 10),
])
def test_random_split_lengths_match(n, lengths):
    def split(lib):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parts = data(lib).random_split(range(n), lengths,
                                           generator=lib.Generator().manual_seed(0))
        return [len(p) for p in parts], [str(w.message) for w in caught]
    assert split(agx) == split(torch)


def test_concat_and_subset_indexing_match():
    def items(lib):
        d = data(lib)
        concat = d.ConcatDataset([list(range(3)), list(range(10, 12))])
        sub = d.Subset(list("abcdef"), [5, 1, 3])
        stack = d.StackDataset(list("xyz"), [1, 2, 3])
        return ([concat[i] for i in range(-5, 5)], [sub[i] for i in range(-3, 3)],
                sub.__getitems__([2, 0]), stack.__getitems__([2, 0]), stack[1],
                concat.cumulative_sizes)
    assert items(agx) == items(torch)


def test_training_loop_over_a_loader_matches():
    """A training loop as in PyTorch's optimization tutorial, over an unshuffled loader:
    the same losses batch by batch."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=20)
    w0 = rng.normal(size=(2, 3)).astype(np.float32)

    def train(lib):
        model = lib.nn.Linear(3, 2)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(w0))
            model.bias.zero_()
        loader = data(lib).DataLoader(data(lib).TensorDataset(lib.tensor(X), lib.tensor(y)),
                                      batch_size=6)
        losses = []
        for _ in range(2):
            for xb, yb in loader:
                loss = lib.nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                with lib.no_grad():     # SGD by hand: torch.optim's first use costs seconds
                    for p in model.parameters():
                        p -= 0.5 * p.grad
                        p.grad = None
                losses.append(loss.item())
        return losses, len(loader.dataset)

    (a, n_a), (t, n_t) = train(agx), train(torch)
    assert n_a == n_t == 20 and len(a) == 8
    np.testing.assert_allclose(a, t, rtol=1e-5)
