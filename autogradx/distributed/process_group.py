"""Process groups: the default (world) group that ``init_process_group`` makes, the
sub-groups of ``new_group``, and the queries on them (``get_rank``, ``get_world_size``,
...), as ``torch.distributed``'s.

Ranks given to collectives (``src``, ``dst``) are global ranks, as in PyTorch; a group
translates them to its own.
"""

import datetime

from autogradx.distributed import backend as _backends
from autogradx.distributed import failure

__all__ = [
    "ProcessGroup", "GroupMember", "group", "init_process_group", "destroy_process_group",
    "is_initialized", "get_rank", "get_world_size", "get_backend", "new_group",
    "get_process_group_ranks", "default_pg_timeout",
]

# PyTorch's default for its CPU backends.
default_pg_timeout = datetime.timedelta(minutes=30)

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to "
                    "call init_process_group.")


class ProcessGroup:
    """A set of ranks that run collectives together: ``rank()`` and ``size()`` within
    it, the backend's communicator, and its timeout (seconds)."""

    def __init__(self, comm, global_ranks, timeout, backend_name):
        self.comm = comm                     # the backend's communicator over these ranks
        self.global_ranks = global_ranks     # world rank of each group rank
        self.timeout = timeout               # seconds every wait on this group may take
        self.backend_name = backend_name

    def rank(self):
        return self.comm.rank

    def size(self):
        return self.comm.size

    def name(self):
        return self.backend_name

    def group_rank(self, global_rank, role):
        """The rank in this group of world rank ``global_rank`` (``role`` names the
        argument in the error)."""
        if isinstance(global_rank, bool) or not isinstance(global_rank, int):
            raise TypeError(f"{role} must be an int rank, got {type(global_rank).__name__}")
        try:
            return self.global_ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"{role}={global_rank} is not part of the group (global ranks "
                             f"{self.global_ranks})") from None

    def __repr__(self):
        return (f"<ProcessGroup {self.backend_name} rank {self.rank()} of {self.size()}, "
                f"global ranks {self.global_ranks}>")


class _NonGroupMember:
    """What ``new_group`` returns on the ranks it leaves out."""

    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class _GroupNamespace:
    """``group.WORLD`` / ``GroupMember.WORLD``: the default group (None before
    ``init_process_group``); ``GroupMember.NON_GROUP_MEMBER``."""

    NON_GROUP_MEMBER = _NonGroupMember()

    @property
    def WORLD(self):
        return _state.world


group = GroupMember = _GroupNamespace()


class _State:
    world = None          # the default ProcessGroup, or None
    subgroups = []        # the groups new_group made, destroyed with the world


_state = _State()


def _seconds(timeout):
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    if timeout.total_seconds() <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    return timeout.total_seconds()


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1,
                       rank=-1, store=None, group_name="", pg_options=None, device_id=None):
    """Join the job's processes into the default group.

    ``backend`` is ``"mpi"`` (CPU tensors, the default) or ``"nccl"`` (cuda tensors,
    through CuPy; on CUDA device ``device_id``, else the one ``autogradx.cuda.set_device``
    chose, else rank modulo the number of devices). Rank and size come from the launcher
    (``mpiexec``, or ``python -m autogradx.distributed.run``); a plain
    ``python script.py`` is a group of one. ``world_size`` and ``rank``, when given, must
    agree with the launcher's.
    ``timeout`` bounds every wait on the group's operations (default 30 minutes): past
    it the waiting ranks raise instead of hanging (docs/distributed.md, *Failures*).
    """
    if _state.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in _backends.BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}'; autogradx.distributed has "
                         f"{', '.join(repr(b) for b in _backends.BACKENDS)}")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_method={init_method!r}: the {name} backend takes ranks "
                         "from the MPI launcher (mpiexec), leave init_method unset")
    if store is not None:
        raise ValueError(f"store: the {name} backend takes ranks from the MPI launcher "
                         "(mpiexec) and uses no store")
    if device_id is not None and name != "nccl":
        raise ValueError(f"init_process_group: device_id={device_id!r} is for the nccl "
                         f"backend; the {name} backend runs on the CPU")
    seconds = _seconds(timeout)
    comm = _backends.create_world(name, device_id)
    for given, actual, what in ((world_size, comm.size, "world_size"),
                                (rank, comm.rank, "rank")):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"init_process_group: {what}={given}, but the launcher "
                             f"started this process as {what} {actual} (rank {comm.rank} "
                             f"of {comm.size})")
    _state.world = ProcessGroup(comm, list(range(comm.size)), seconds, name)
    failure.install(comm.rank, comm.size, comm.abort)


def is_initialized():
    """Whether ``init_process_group`` has made the default group."""
    return _state.world is not None


def resolve(group):
    """``group``, or the default group for None; an error before initialisation."""
    if _state.world is None:
        raise ValueError(_NOT_INITIALIZED)
    return _state.world if group is None else group


def destroy_process_group(group=None):
    """Free ``group``, or with no argument every group, default one included (after
    which ``init_process_group`` may run again)."""
    world = resolve(None)
    if group is not None and group is not world:
        if isinstance(group, ProcessGroup):
            group.comm.close()
            _state.subgroups.remove(group)
        return
    for sub in _state.subgroups:
        sub.comm.close()
    _state.subgroups = []
    world.comm.close()
    _state.world = None
    failure.uninstall()


def get_rank(group=None):
    """This process's rank in ``group`` (the default group), -1 if it is not a member."""
    g = resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.rank()


def get_world_size(group=None):
    """How many processes ``group`` (the default group) has, -1 if this one is not a
    member."""
    g = resolve(group)
    return -1 if g is GroupMember.NON_GROUP_MEMBER else g.size()


def get_backend(group=None):
    """The name of ``group``'s backend (``"mpi"`` or ``"nccl"``)."""
    g = resolve(group)
    if g is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return g.backend_name


def get_process_group_ranks(group):
    """The global ranks of ``group``'s members, in group rank order."""
    return list(resolve(group).global_ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None):
    """A group of the global ``ranks`` (all of them for None); every rank of the default
    group must call it, members or not. Non-members get ``GroupMember.NON_GROUP_MEMBER``,
    on which collectives do nothing (with a warning), as in PyTorch."""
    world = resolve(None)
    if backend is not None and str(backend).lower() != world.backend_name:
        raise ValueError(f"new_group: backend {backend!r} differs from the default "
                         f"group's ({world.backend_name!r})")
    if ranks is None:
        ranks = list(range(world.size()))
    ranks = sorted(ranks)
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks has duplicates: {ranks}")
    for r in ranks:
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < world.size():
            raise ValueError(f"new_group: rank {r!r} is out of range for a world of "
                             f"{world.size()} (ranks must be 0 to {world.size() - 1})")
    seconds = world.timeout if timeout is None else _seconds(timeout)
    comm = world.comm.split(ranks)
    if comm is None:
        return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(comm, ranks, seconds, world.backend_name)
    _state.subgroups.append(g)
    return g
