"""RNN, LSTM, GRU and their cells against PyTorch's: the same constructor call, the
weights copied across, then the reprs, the parameters' names and shapes, the outputs and
the gradients of the input, of the initial states and of every parameter must match (float64);
the gradients also agree with finite differences; bad calls raise PyTorch's errors."""

import math
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn
from autogradx.testing import gradcheck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-9, atol=1e-11)


def _pair(make):
    ours = make(nn).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # PyTorch's note on projections and oneDNN
        theirs = make(torch.nn).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    return ours, theirs


def _leaves(out):
    """The output tensors of a call, flattened: ``(output, (h, c))`` -> ``[output, h, c]``."""
    flat = []
    for o in (out if isinstance(out, tuple) else (out,)):
        flat.extend(_leaves(o) if isinstance(o, tuple) else [o])
    return flat


def _compare(ours, theirs, arrays, rng):
    """Call both with ``arrays`` (None, an array, or a tuple of arrays), backward from the
    same random gradients of every output, compare everything."""
    def build(lib):
        made = []
        for a in arrays:
            if a is None:
                made.append(None)
            elif isinstance(a, tuple):
                made.append(tuple(lib.tensor(x, requires_grad=True) for x in a))
            else:
                made.append(lib.tensor(a, requires_grad=True))
        return made

    xs, ts = build(agx), build(torch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs, expected = _leaves(ours(*xs)), _leaves(theirs(*ts))
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        assert tuple(o.shape) == tuple(e.shape)
        np.testing.assert_allclose(o.detach().numpy(), e.detach().numpy(), **TOL)
    grads = [rng.standard_normal(tuple(e.shape)) for e in expected]
    agx.autograd.backward(outs, [agx.tensor(g) for g in grads])
    torch.autograd.backward(expected, [torch.tensor(g) for g in grads])
    for x, t in zip(_leaves(tuple(x for x in xs if x is not None)),
                    _leaves(tuple(t for t in ts if t is not None))):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), **TOL,
                                   err_msg=name)


LAYERS = [
    ("RNN", lambda nn: nn.RNN(3, 4), (5, 2, 3), False),
    ("RNN-relu-2-layers", lambda nn: nn.RNN(3, 4, 2, "relu"), (4, 2, 3), True),
    ("RNN-bidirectional-batch-first", lambda nn: nn.RNN(3, 4, bidirectional=True,
                                                        batch_first=True), (2, 5, 3), True),
    ("RNN-unbatched", lambda nn: nn.RNN(3, 2, num_layers=2), (4, 3), True),
    ("LSTM", lambda nn: nn.LSTM(3, 4), (5, 2, 3), False),
    ("LSTM-no-bias-2-layers", lambda nn: nn.LSTM(3, 4, 2, bias=False), (3, 2, 3), True),
    ("LSTM-bidirectional-3-layers", lambda nn: nn.LSTM(2, 3, 3, bidirectional=True),
     (4, 2, 2), True),
    ("LSTM-projections", lambda nn: nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True,
                                            proj_size=2), (2, 3, 3), True),
    ("LSTM-unbatched", lambda nn: nn.LSTM(3, 4), (5, 3), True),
    ("GRU", lambda nn: nn.GRU(3, 4), (5, 2, 3), False),
    ("GRU-bidirectional-2-layers", lambda nn: nn.GRU(3, 4, 2, bidirectional=True), (3, 2, 3),
     True),
    ("GRU-batch-first-unbatched", lambda nn: nn.GRU(3, 4, batch_first=True), (5, 3), True),
]


def _initial_state(module, shape, rng):
    directions = 2 if module.bidirectional else 1
    batch = () if len(shape) == 2 else (shape[0] if module.batch_first else shape[1],)
    h = rng.standard_normal((directions * module.num_layers,) + batch
                            + (module.proj_size or module.hidden_size,))
    if module.mode != "LSTM":
        return h
    return h, rng.standard_normal((directions * module.num_layers,) + batch
                                  + (module.hidden_size,))


@pytest.mark.parametrize("make, shape, with_state", [c[1:] for c in LAYERS],
                         ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(make, shape, with_state):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(make)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.named_parameters()] == \
        [(k, tuple(v.shape)) for k, v in theirs.named_parameters()]
    x = rng.standard_normal(shape)
    _compare(ours, theirs, [x, _initial_state(ours, shape, rng) if with_state else None], rng)


def test_dropout_between_layers_in_training_matches_torch_where_it_is_certain():
    # p=1 zeroes every input of the second layer: the same function in both libraries.
    rng = np.random.default_rng(1)
    ours, theirs = _pair(lambda nn: nn.GRU(3, 4, 2, dropout=1.0))
    _compare(ours, theirs, [rng.standard_normal((3, 2, 3)), None], rng)


CELLS = [
    ("RNNCell", lambda nn: nn.RNNCell(3, 4), (2, 3)),
    ("RNNCell-relu-no-bias", lambda nn: nn.RNNCell(3, 4, bias=False, nonlinearity="relu"),
     (2, 3)),
    ("LSTMCell", lambda nn: nn.LSTMCell(3, 4), (2, 3)),
    ("LSTMCell-unbatched", lambda nn: nn.LSTMCell(3, 4), (3,)),
    ("GRUCell", lambda nn: nn.GRUCell(3, 4), (2, 3)),
    ("GRUCell-unbatched", lambda nn: nn.GRUCell(3, 4, bias=False), (3,)),
]


@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize("make, shape", [c[1:] for c in CELLS], ids=[c[0] for c in CELLS])
def test_cell_matches_torch(make, shape, with_state):
    rng = np.random.default_rng(2)
    ours, theirs = _pair(make)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    state = None
    if with_state:
        h_shape = shape[:-1] + (4,)
        state = rng.standard_normal(h_shape)
        if isinstance(ours, nn.LSTMCell):
            state = (state, rng.standard_normal(h_shape))
    _compare(ours, theirs, [rng.standard_normal(shape), state], rng)
    x = agx.tensor(rng.standard_normal(shape), requires_grad=True)
    if with_state:
        assert _leaves(ours(x))[0].grad_fn.name() == _leaves(theirs(torch.tensor(
            x.detach().numpy(), requires_grad=True)))[0].grad_fn.name()


@pytest.mark.parametrize("make", [lambda nn: nn.LSTM(2, 3, 2, bidirectional=True),
                                  lambda nn: nn.GRU(2, 3, batch_first=True),
                                  lambda nn: nn.RNN(2, 3, nonlinearity="relu")],
                         ids=["LSTM", "GRU", "RNN"])
def test_gradients_match_finite_differences(make):
    module = make(nn).double()
    x = agx.tensor(np.random.default_rng(3).standard_normal((3, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x: module(x)[0], (x,))


def test_initialisation_is_uniform_within_one_over_sqrt_hidden():
    agx.manual_seed(0)
    module = nn.LSTM(10, 25, 2)
    bound = 1 / math.sqrt(25)
    values = np.concatenate([p.detach().numpy().ravel() for p in module.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound   # spread over the range
    assert abs(values.mean()) < 0.01


ERRORS = [
    ("input-size", lambda lib: lib.nn.RNN(3, 4)(lib.ones(5, 2, 4))),
    ("hidden-size", lambda lib: lib.nn.RNN(3, 4)(lib.ones(5, 2, 3), lib.ones(2, 2, 4))),
    ("4d-input", lambda lib: lib.nn.GRU(3, 4)(lib.ones(5, 2, 3, 1))),
    ("unbatched-hx", lambda lib: lib.nn.RNN(3, 4)(lib.ones(5, 3), lib.ones(1, 2, 4))),
    ("batched-hx", lambda lib: lib.nn.RNN(3, 4)(lib.ones(5, 2, 3), lib.ones(2, 4))),
    ("lstm-c0", lambda lib: lib.nn.LSTM(3, 4)(lib.ones(5, 2, 3),
                                              (lib.ones(1, 2, 4), lib.ones(1, 3, 4)))),
    ("nonlinearity", lambda lib: lib.nn.RNN(3, 4, nonlinearity="sig")),
    ("dropout", lambda lib: lib.nn.LSTM(3, 4, 2, dropout=1.5)),
    ("proj-size", lambda lib: lib.nn.LSTM(3, 4, proj_size=4)),
    ("proj-size-gru", lambda lib: lib.nn.GRU(3, 4, proj_size=2)),
    ("hidden-zero", lambda lib: lib.nn.RNN(3, 0)),
    ("layers-zero", lambda lib: lib.nn.RNN(3, 2, 0)),
    ("cell-input-size", lambda lib: lib.nn.RNNCell(3, 4)(lib.ones(2, 4))),
    ("cell-batch", lambda lib: lib.nn.RNNCell(3, 4)(lib.ones(2, 3), lib.ones(3, 4))),
    ("cell-3d", lambda lib: lib.nn.GRUCell(3, 4)(lib.ones(2, 2, 3))),
    ("lstm-cell-hidden", lambda lib: lib.nn.LSTMCell(3, 4)(lib.ones(2, 3),
                                                           (lib.ones(2, 4), lib.ones(2, 5)))),
]


@pytest.mark.parametrize("call", [c for _, c in ERRORS], ids=[n for n, _ in ERRORS])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(agx)
    assert str(ours.value) == str(theirs.value)


def test_dropout_on_one_layer_warns_like_torch():
    with pytest.warns(UserWarning) as theirs:
        torch.nn.GRU(3, 4, dropout=0.5)
    with pytest.warns(UserWarning) as ours:
        nn.GRU(3, 4, dropout=0.5)
    assert str(ours[0].message) == str(theirs[0].message)



@pytest.mark.parametrize("make", [lambda m: m.LSTM(3, 4), lambda m: m.GRU(3, 4, num_layers=2),
                                  lambda m: m.RNN(3, 4, batch_first=True)],
                         ids=["lstm", "gru-2-layers", "rnn-batch-first"])
def test_output_nodes_are_those_of_pytorchs_native_path(make):
    """Each output's node (what printing it shows) is the one PyTorch's native CPU path
    records (``StackBackward0`` for the output of LSTM), since autogradx composes the layers
    of ops as that path does; the nodes behind them differ. PyTorch's default CPU path runs
    LSTM as one oneDNN kernel whose output's node is ``MkldnnRnnLayerBackward0``: autogradx
    has no such kernel and does not borrow its name (tests/compat/test_tutorials.py lists the
    tutorial that prints it)."""
    ours, theirs = _pair(make)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    names = [o.grad_fn.name() for o in _leaves(ours(agx.tensor(x, requires_grad=True)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the flags' note on TF32 for Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False):
            native = _leaves(theirs(torch.tensor(x, requires_grad=True)))
    assert names == [t.grad_fn.name() for t in native]
    if isinstance(ours, nn.LSTM) and torch.backends.mkldnn.is_available():
        default = theirs.float()(torch.tensor(x, dtype=torch.float32, requires_grad=True))
        assert default[0].grad_fn.name() == "MkldnnRnnLayerBackward0" != names[0]
