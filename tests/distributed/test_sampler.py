"""``DistributedSampler`` against ``torch.utils.data.distributed.DistributedSampler``:
the same indices without shuffling (padding, ``drop_last``), and with shuffling the same
sizes, a partition of the data shared by all ranks, reshuffled by ``set_epoch``."""

import pytest

from autogradx.utils.data.distributed import DistributedSampler

torch = pytest.importorskip("torch")
from torch.utils.data.distributed import DistributedSampler as TorchSampler  # noqa: E402

CASES = [(n, replicas) for n in (1, 2, 5, 7, 10, 12) for replicas in (1, 2, 3, 4)]


@pytest.mark.parametrize("n, replicas", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_match_pytorch_without_shuffling(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("n, replicas", CASES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_shares_partition_one_permutation(n, replicas, drop_last):
    data = list(range(n))
    shares = [list(DistributedSampler(data, replicas, r, seed=5, drop_last=drop_last))
              for r in range(replicas)]
    theirs = [list(TorchSampler(data, replicas, r, seed=5, drop_last=drop_last))
              for r in range(replicas)]
    assert [len(s) for s in shares] == [len(t) for t in theirs]
    # Each share is the rank's stride of one padded permutation: torch's rule on our order.
    merged = [shares[i % replicas][i // replicas] for i in range(sum(map(len, shares)))]
    if drop_last:
        assert len(set(merged)) == len(merged)
    else:
        assert set(merged) == set(data)
        assert merged[n:] == (merged[:n] * (len(merged) // n + 1))[:len(merged) - n]


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    data = list(range(40))
    a = DistributedSampler(data, 2, 0, seed=1)
    b = DistributedSampler(data, 2, 0, seed=1)
    first = list(a)
    assert list(a) == first                       # the same epoch, the same order
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b) != first
    assert list(DistributedSampler(data, 2, 0, seed=2)) != first


@pytest.mark.parametrize("rank", [-1, 2])
def test_invalid_rank_is_refused_as_pytorch_does(rank):
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(4), num_replicas=2, rank=rank)
    with pytest.raises(ValueError) as theirs:
        TorchSampler(range(4), num_replicas=2, rank=rank)
    assert str(ours.value) == str(theirs.value)


def test_without_a_process_group_the_defaults_fail():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))
