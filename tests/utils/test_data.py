"""utils.data: datasets, samplers, collation and DataLoader, in the main process and with
worker processes (test_data_torch.py compares the deterministic parts with PyTorch)."""

import collections
import gc
import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest

import autogradx as agx
from autogradx.utils.data import (
    BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
    RandomSampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler, TensorDataset,
    WeightedRandomSampler, default_collate, default_convert, get_worker_info, random_split,
)
from helpers import arr

# A machine with fewer CPUs than the two workers these tests start warns (as PyTorch
# does); that warning is about the machine, not the behaviour tested.
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def rows(n=10, width=2):
    return TensorDataset(agx.arange(n * width, dtype=agx.float32).reshape(n, width),
                         agx.arange(n))


def values(batches):
    """Batches (tensors, nested in lists, tuples and dicts) as plain Python values."""
    if isinstance(batches, agx.Tensor):
        return batches.tolist()
    if isinstance(batches, dict):
        return {k: values(v) for k, v in batches.items()}
    if isinstance(batches, (list, tuple, DataLoader)):
        return [values(b) for b in batches]
    return batches


class Squares(IterableDataset):
    """``i * i`` for i in [start, stop): each worker takes every num_workers-th one."""

    def __init__(self, start, stop, shard=True):
        self.start, self.stop, self.shard = start, stop, shard

    def __iter__(self):
        info = get_worker_info()
        step, first = 1, 0
        if self.shard and info is not None:
            step, first = info.num_workers, info.id
        return iter(i * i for i in range(self.start + first, self.stop, step))


class Sized(Squares):
    def __len__(self):
        return self.stop - self.start


def test_reached_through_the_package_and_imported_only_when_used():
    code = ("import sys, autogradx as torch\n"
            "assert 'autogradx.utils.data' not in sys.modules\n"
            "assert 'multiprocessing' not in sys.modules\n"
            "from autogradx.utils.data import DataLoader\n"
            "assert torch.utils.data.DataLoader is DataLoader\n"
            "assert torch.utils.data.dataloader.DataLoader is DataLoader\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ datasets

def test_tensor_dataset_rows_and_length():
    ds = rows(5)
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3 and len(ds) == 5
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(agx.zeros(3), agx.zeros(4))


def test_stack_dataset_tuple_and_dict():
    a, b = rows(4), list("wxyz")
    assert StackDataset(a, b)[2][1] == "y"
    sample = StackDataset(num=a, letter=b)[1]
    assert sample["letter"] == "x" and sample["num"][1].item() == 1
    # __getitems__ fetches a batch through the inner datasets' own __getitems__.
    batch = StackDataset(sub=Subset(b, [3, 2, 1, 0]), letter=b).__getitems__([0, 3])
    assert batch == [{"sub": "z", "letter": "w"}, {"sub": "w", "letter": "z"}]
    assert StackDataset(b, b).__getitems__([1]) == [("x", "x")]
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(a, list("ab"))
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        StackDataset()
    with pytest.raises(ValueError, match="but both types are given"):
        StackDataset(a, b=b)


def test_concat_dataset_indices_run_through_each_part():
    parts = [list(range(3)), list(range(10, 12)), list(range(20, 24))]
    ds = ConcatDataset(parts)
    assert [ds[i] for i in range(len(ds))] == sum(parts, [])
    assert ds[-1] == 23 and ds[-9] == 0
    assert ds.cumulative_sizes == [3, 5, 9]
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        ds[-10]
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Squares(0, 2)])
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])
    joined = rows(2) + rows(3)
    assert isinstance(joined, ConcatDataset) and len(joined) == 5


def test_chain_dataset_chains_iterables():
    chained = Sized(0, 3) + Sized(5, 7)
    assert isinstance(chained, ChainDataset)
    assert list(chained) == [0, 1, 4, 25, 36] and len(chained) == 5
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(ChainDataset([Sized(0, 1), [1, 2]]))


def test_iterable_dataset_must_define_iter():
    class NoIter(IterableDataset):
        pass

    with pytest.raises(TypeError, match="abstract"):
        NoIter()
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        Dataset()[0]


def test_subset_and_its_getitems():
    class Counting(Dataset):
        def __init__(self):
            self.batches = []

        def __getitem__(self, i):
            return i * 10

        def __getitems__(self, indices):
            self.batches.append(indices)
            return [i * 10 for i in indices]

        def __len__(self):
            return 10

    inner = Counting()
    sub = Subset(inner, [7, 2, 5])
    assert [sub[i] for i in range(3)] == [70, 20, 50] and len(sub) == 3
    assert sub.__getitems__([2, 0]) == [50, 70] and inner.batches == [[5, 7]]
    assert values(next(iter(DataLoader(sub, batch_size=3)))) == [70, 20, 50]

    class Overrides(Subset):
        def __getitem__(self, i):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Overrides(inner, [1])


def test_random_split_is_a_partition_reproducible_by_seed():
    def split(**kw):
        return [list(s.indices) for s in random_split(range(20), [0.5, 0.3, 0.2], **kw)]

    parts = split(generator=agx.Generator().manual_seed(3))
    assert [len(p) for p in parts] == [10, 6, 4]
    assert sorted(sum(parts, [])) == list(range(20))
    assert split(generator=agx.Generator().manual_seed(3)) == parts
    assert split(generator=agx.Generator().manual_seed(4)) != parts
    agx.manual_seed(0)
    first = split()
    agx.manual_seed(0)
    assert split() == first
    a, b = random_split(rows(5), [2, 3])
    assert a.dataset is b.dataset and len(a) == 2
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(5), [2, 2])
    with pytest.raises(ValueError, match="Fraction at index 2 is not between 0 and 1"):
        random_split(range(5), [0.5, 0.7, -0.2])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [0.9, 0.1])


# ------------------------------------------------------------------ samplers

def test_random_sampler_is_a_permutation_reproducible_by_seed():
    data = range(30)
    agx.manual_seed(5)
    sampler = RandomSampler(data)
    epoch1, epoch2 = list(sampler), list(sampler)
    assert sorted(epoch1) == list(range(30)) and epoch1 != epoch2   # a new order each pass
    agx.manual_seed(5)
    assert [list(sampler), list(sampler)] == [epoch1, epoch2]
    g = RandomSampler(data, generator=agx.Generator().manual_seed(1))
    assert list(g) == list(RandomSampler(data, generator=agx.Generator().manual_seed(1)))


def test_random_sampler_num_samples_and_replacement():
    more = list(RandomSampler(range(4), num_samples=10))
    assert len(more) == 10 and sorted(more[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=300))
    assert len(drawn) == 300 and set(drawn) == {0, 1, 2}
    assert len(RandomSampler(range(3), replacement=True, num_samples=7)) == 7
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(0))
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    indices = [10, 3, 7, 42]
    drawn = list(SubsetRandomSampler(indices))
    assert sorted(drawn) == sorted(indices) and len(SubsetRandomSampler(indices)) == 4


def test_weighted_random_sampler_follows_weights():
    weights = [1.0, 0.0, 3.0]
    g = agx.Generator().manual_seed(0)
    drawn = np.array(list(WeightedRandomSampler(weights, 4000, generator=g)))
    counts = np.bincount(drawn, minlength=3) / len(drawn)
    assert counts[1] == 0
    np.testing.assert_allclose(counts, [0.25, 0.0, 0.75], atol=0.03)
    # Without replacement: distinct indices, the zero weights last, as PyTorch orders them.
    assert sorted(WeightedRandomSampler([5.0, 1.0, 2.0], 3, replacement=False)) == [0, 1, 2]
    assert list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, replacement=False))[0] == 1
    for bad, match in [([1.0, -1.0], "probability entry < 0"),
                       ([0.0, 0.0], r"sum of probabilities <= 0"),
                       ([1.0, float("inf")], "probability entry = infinity or NaN")]:
        with pytest.raises(RuntimeError, match=match):
            list(WeightedRandomSampler(bad, 2))
    with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
        list(WeightedRandomSampler([1.0, 1.0], 3, replacement=False))
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)


def test_batch_sampler_groups_indices():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)


# ------------------------------------------------------------------ collation

def test_default_collate_dtypes():
    assert default_collate([1.5, 2.0]).dtype == agx.float64     # Python floats: float64
    assert default_collate([1, 2]).dtype == agx.int64
    assert default_collate([True, False]).dtype == agx.bool
    assert default_collate([np.float32(1), np.float32(2)]).dtype == agx.float32
    assert default_collate([np.ones(2, np.int16)] * 3).dtype == agx.int16
    assert default_collate([agx.ones(2, dtype=agx.float16)] * 2).shape == (2, 2)
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_default_collate_nested_structures():
    Point = collections.namedtuple("Point", "x y")
    batch = default_collate([{"p": Point(i, float(i)), "v": [np.full(2, i), (i, "s")]}
                             for i in range(3)])
    assert isinstance(batch["p"], Point) and batch["p"].x.tolist() == [0, 1, 2]
    assert batch["v"][0].tolist() == [[0, 0], [1, 1], [2, 2]]
    assert values(batch["v"][1][0]) == [0, 1, 2] and batch["v"][1][1] == ("s", "s", "s")
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_keeps_the_graph():
    samples = [agx.tensor([1.0, 2.0], requires_grad=True) for _ in range(3)]
    batch = default_collate(samples)
    (batch * agx.tensor([[1.0], [2.0], [3.0]])).sum().backward()
    assert [s.grad.tolist() for s in samples] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]


def test_default_convert_shares_memory():
    a = np.arange(3.0)
    converted = default_convert({"a": a, "n": 3, "s": ("x", np.float32(2))})
    assert np.shares_memory(arr(converted["a"]), a)
    assert converted["n"] == 3 and converted["s"][0] == "x"
    assert converted["s"][1].dtype == agx.float32


# ------------------------------------------------------------------ DataLoader, one process

def test_loader_batches_and_len():
    ds = rows(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert batches[2][0].tolist() == ds.tensors[0][8:].tolist()
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 10 and single[3][1].item() == 3       # no batch dimension


def test_shuffle_reproducible_from_seed_and_generator():
    def epoch(**kw):
        return [b.tolist() for b in DataLoader(range(12), batch_size=5, shuffle=True, **kw)]

    agx.manual_seed(7)
    first, second = epoch(), epoch()
    assert sorted(sum(first, [])) == list(range(12)) and first != second
    agx.manual_seed(7)
    assert [epoch(), epoch()] == [first, second]
    assert epoch(generator=agx.Generator().manual_seed(2)) == \
        epoch(generator=agx.Generator().manual_seed(2))


def test_sampler_batch_sampler_and_collate_fn():
    assert values(DataLoader(range(6), sampler=[5, 0, 3], batch_size=2)) == [[5, 0], [3]]
    assert values(DataLoader(range(6), batch_sampler=[[1, 2], [4]])) == [[1, 2], [4]]
    loader = DataLoader(range(5), batch_size=2, collate_fn=sum)
    assert list(loader) == [1, 5, 4]


def test_iterable_dataset_batches_len_and_warning():
    loader = DataLoader(Sized(0, 5), batch_size=2)
    assert values(loader) == [[0, 1], [4, 9], [16]] and len(loader) == 3
    assert len(DataLoader(Sized(0, 5), batch_size=2, drop_last=True)) == 2
    assert values(DataLoader(Squares(0, 5), batch_size=2, drop_last=True)) == [[0, 1], [4, 9]]
    lying = DataLoader(Sized(0, 3), batch_size=None)
    assert len(lying) == 3
    lying.dataset.stop = 5          # now yields more than len() said
    with pytest.warns(UserWarning, match="Length of IterableDataset .* was reported to be 3"):
        list(lying)


def test_loader_attributes_are_frozen():
    loader = DataLoader(range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 2
    loader.num_workers = 0          # not one of the frozen ones


def test_pin_memory_is_accepted_and_warns():
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true"):
        batches = list(DataLoader(range(3), batch_size=2, pin_memory=True))
    assert values(batches) == [[0, 1], [2]]


def test_timeout_needs_workers():
    with pytest.raises(AssertionError, match="requires timeout == 0"):
        iter(DataLoader(range(3), timeout=1))


# ------------------------------------------------------------------ worker processes

class Failing(Dataset):
    def __init__(self, bad, exc=ValueError):
        self.bad, self.exc = bad, exc

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == self.bad:
            raise self.exc(f"sample {i} is broken")
        return i


class Dying(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            os._exit(3)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(0.3)
        return i


class Draws(Dataset):
    """Each sample: the worker's id and pid and one draw of each global generator."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, os.getpid(), info.seed, random.random(), np.random.random(),
                agx.rand(1).item())


def test_workers_give_the_same_batches_as_the_main_process():
    ds = rows(11)
    expected = values(DataLoader(ds, batch_size=3))
    assert values(DataLoader(ds, batch_size=3, num_workers=2)) == expected
    # Out of order: the same batches, in whatever order they came.
    unordered = values(DataLoader(ds, batch_size=3, num_workers=2, in_order=False))
    assert sorted(unordered) == sorted(expected)


def test_iterable_dataset_shards_with_worker_info():
    assert get_worker_info() is None
    assert values(DataLoader(Squares(3, 7), num_workers=2)) == [[9], [16], [25], [36]]
    assert sorted(values(DataLoader(Squares(3, 7), batch_size=None, num_workers=2))) == \
        [9, 16, 25, 36]
    # Without sharding each worker yields the whole stream.
    assert sorted(values(DataLoader(Squares(0, 3, shard=False), batch_size=None,
                                    num_workers=2))) == [0, 0, 1, 1, 4, 4]


def test_worker_seeds_and_init_fn():
    def run():
        return values(DataLoader(Draws(), batch_size=None, num_workers=2,
                                 worker_init_fn=lambda worker_id: random.seed(worker_id)))

    agx.manual_seed(11)
    first = run()
    (id0, _, seed0, py0, np0, agx0), (id1, _, seed1, py1, np1, agx1) = first[:2]
    assert (id0, id1) == (0, 1) and seed1 == seed0 + 1
    # worker_init_fn runs after the seeding: Python's generator is what it set.
    assert py0 == random.Random(0).random() and py1 == random.Random(1).random()
    assert np0 != np1 and agx0 != agx1
    agx.manual_seed(11)
    again = run()
    assert [r[2:] for r in again] == [r[2:] for r in first]
    assert run()[0][2] != seed0         # a new iterator draws a new base seed


def test_worker_error_carries_the_worker_traceback():
    loader = DataLoader(Failing(4), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    text = str(info.value)
    assert text.startswith("Caught ValueError in DataLoader worker process 0.\n"
                           "Original Traceback (most recent call last):")
    assert 'raise self.exc(f"sample {i} is broken")' in text
    assert text.rstrip().endswith("ValueError: sample 4 is broken")
    with pytest.raises(KeyError) as info:
        list(DataLoader(Failing(1, KeyError), num_workers=1))
    assert "\n" in str(info.value)     # shown as text, not as the repr of one long line


def test_worker_errors_that_do_not_pickle_still_arrive():
    class LocalError(Exception):        # pickle cannot find a local class by name
        pass

    def fail(batch):
        raise LocalError("from a local class")

    with pytest.raises(RuntimeError, match="(?s)Caught LocalError in DataLoader worker "
                                           "process 0.*LocalError: from a local class"):
        list(DataLoader(range(2), num_workers=1, collate_fn=fail))
    with pytest.raises(Exception, match="in DataLoader worker process 0 \\(sending the "
                                        "batch to the main process\\)"):
        list(DataLoader(range(2), num_workers=1, collate_fn=lambda b: lambda: b))


def test_generator_must_be_an_autogradx_generator():
    with pytest.raises(TypeError, match="generator must be an autogradx.Generator, not "
                                        "numpy.random._generator.Generator"):
        list(DataLoader(range(3), shuffle=True, generator=np.random.default_rng(0)))


def test_worker_init_fn_error_propagates():
    def init(worker_id):
        raise OSError(f"cannot open shard {worker_id}")

    with pytest.raises(OSError, match="cannot open shard 0"):
        list(DataLoader(range(4), num_workers=1, worker_init_fn=init))


def test_a_dying_worker_raises_instead_of_hanging():
    it = iter(DataLoader(Dying(), num_workers=2))
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly \(exit code 3\)"):
        list(it)
    # At once: not after a polling interval (5 s in PyTorch's loop), let alone never.
    assert time.monotonic() - start < 4
    assert not any(w.is_alive() for w in it._workers)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        next(it)


def test_timeout():
    it = iter(DataLoader(Slow(), num_workers=1, timeout=0.1))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.1 seconds"):
        next(it)


def test_workers_stop_when_the_iterator_goes(gc_off):
    it = iter(DataLoader(range(50), num_workers=2))
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it
    assert not any(w.is_alive() for w in workers)
    done = iter(DataLoader(range(3), num_workers=2))
    assert len(list(done)) == 3 and not any(w.is_alive() for w in done._workers)


def test_workers_stop_when_the_iterator_dies_in_a_garbage_cycle():
    # As when a traceback holds it: multiprocessing's finalizers of its queues then run
    # in the same collection, and the workers must still get their stop message.
    it = iter(DataLoader(range(50), num_workers=1))
    next(it)
    workers = list(it._workers)
    cycle = [it]
    cycle.append(cycle)
    del it, cycle
    start = time.monotonic()
    gc.collect()
    assert not any(w.is_alive() for w in workers)
    assert time.monotonic() - start < 4     # stopped when asked, not at the 5 s deadline


def test_persistent_workers_live_between_epochs():
    loader = DataLoader(Draws(), batch_size=None, num_workers=2, persistent_workers=True)
    pids = [{row[1] for row in values(loader)} for _ in range(2)]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    it = iter(loader)
    next(it)            # an epoch left early: the next one still gives every sample
    assert len(list(loader)) == 4
    workers = list(loader._iterator._workers)
    del loader, it
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_tensors_with_a_graph_do_not_cross_processes():
    w = agx.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        list(DataLoader(range(2), num_workers=1, collate_fn=lambda b: w * 2))
    [leaf] = DataLoader(range(1), num_workers=1, collate_fn=lambda b: w)
    assert leaf.requires_grad and leaf.is_leaf and leaf is not w


def test_spawned_workers_receive_autogradx_tensors():
    ds = rows(4)
    loader = DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert values(loader) == values(DataLoader(ds, batch_size=2))
