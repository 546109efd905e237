"""``autogradx.nn.parallel``: ``DataParallel`` (one device, ``data_parallel.py``) and
``DistributedDataParallel`` (one process per rank over ``autogradx.distributed``,
``distributed.py``; its gradient buckets in ``_reducer.py``)."""

from autogradx.nn.parallel.data_parallel import DataParallel
from autogradx.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
